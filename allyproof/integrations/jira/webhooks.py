"""The connection's one dynamic webhook: register, re-register, refresh, delete (DESIGN §6).

Atlassian allows 5 dynamic webhooks per app per user per site and expires them 30 days after
creation or refresh; a 200 from register can carry per-item errors. So: one registration per
connection, filtered to the enabled projects; new registered before old deleted; strays of ours
(from a crash mid-register) deleted before registering; refreshed well before expiry.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse

from allyproof.core import clock

from .client import JiraClient
from .errors import JiraError, JiraNotFound, JiraUnknownOutcome, JiraValidationError
from .models import JiraConnection, SiteSyncRule

log = logging.getLogger(__name__)
EVENTS = ["jira:issue_updated", "jira:issue_deleted"]
LIFETIME = dt.timedelta(days=30)
REFRESH_WHEN_LEFT = dt.timedelta(days=15)


def webhook_url() -> str:
    return settings.CONFIG.public_url + reverse("jira_webhook")


def enabled_rules(connection: JiraConnection) -> QuerySet[SiteSyncRule]:
    return SiteSyncRule.objects.filter(
        site__organization_id=connection.organization_id, site__active=True, enabled=True
    ).exclude(project_key="")


def desired_jql(connection: JiraConnection) -> str:
    """`project IN (ACME, WEB)` over the enabled sites' keys; "" when no site is enabled.

    Only project, issueKey, issuetype, status, assignee and reporter can filter a dynamic webhook
    (labels cannot), so we filter by project and check the link in the handler."""
    keys = sorted(set(enabled_rules(connection).values_list("project_key", flat=True)))
    return f"project IN ({', '.join(keys)})" if keys else ""


def _ours(client: JiraClient) -> list[dict]:
    url = webhook_url()
    return [hook for hook in client.list_webhooks() if hook.get("url") == url]


def _save(connection: JiraConnection, **fields) -> None:
    for name, value in fields.items():
        setattr(connection, name, value)
    connection.save(update_fields=list(fields))


def _register(connection: JiraConnection, client: JiraClient, jql: str) -> list[int]:
    keep = set(connection.webhook_ids)
    for stray in _ours(client):  # left by a crash between register and save: delete before adding
        if stray["id"] not in keep:
            client.delete_webhooks([stray["id"]])
    try:
        results = client.register_webhooks(url=webhook_url(), webhooks=[{"events": EVENTS, "jqlFilter": jql}])
    except JiraUnknownOutcome:
        # The registration may exist: adopt what Jira has for this filter rather than add another.
        adopted = [h["id"] for h in _ours(client) if h.get("jqlFilter") == jql and h["id"] not in keep]
        if not adopted:
            raise
        return adopted[:1]
    errors = [e for item in results for e in item.get("errors", [])]
    created = [item["createdWebhookId"] for item in results if "createdWebhookId" in item]
    if errors or not created:
        if created:
            client.delete_webhooks(created)
        raise JiraValidationError(f"Jira refused the webhook: {'; '.join(errors) or 'no webhook created'}",
                                  messages=errors)
    return created


def webhook_sync(*, connection: JiraConnection, client: JiraClient, force: bool = False) -> None:
    """Makes Jira's registration match the enabled projects: new first, then the old one deleted."""
    jql = desired_jql(connection)
    if not force and jql == connection.webhook_jql and (bool(connection.webhook_ids) == bool(jql)):
        return
    old = list(connection.webhook_ids)
    try:
        new = _register(connection, client, jql) if jql else []
    except JiraError as problem:
        _save(connection, webhook_error=str(problem)[:500])
        log.warning("jira.webhook.register_failed connection=%s error=%s", connection.pk, problem)
        raise
    _save(connection, webhook_ids=new, webhook_jql=jql, webhook_error="",
          webhook_expires_at=clock.now() + LIFETIME if new else None)
    stale = [i for i in old if i not in new]
    if stale:
        try:
            client.delete_webhooks(stale)
        except JiraError as problem:  # it expires on its own in 30 days; the next sync sweeps strays too
            log.warning("jira.webhook.delete_old_failed connection=%s error=%s", connection.pk, problem)
    log.info("jira.webhook.synced connection=%s ids=%s jql=%r", connection.pk, new, jql)


def webhook_refresh(*, connection: JiraConnection, client: JiraClient) -> None:
    """Extends the registration's life; re-registers when it is gone or the refresh fails."""
    expired = connection.webhook_expires_at is not None and connection.webhook_expires_at <= clock.now()
    if not connection.webhook_ids or expired:
        # An expired registration missed events already (reconciliation covers them); start afresh.
        webhook_sync(connection=connection, client=client, force=True)
        return
    try:
        listed = {hook["id"] for hook in _ours(client)}
        alive = [i for i in connection.webhook_ids if i in listed]
        expires = client.refresh_webhooks(alive) if alive else None
    except (JiraNotFound, JiraValidationError):
        alive, expires = [], None
    if len(alive) != len(connection.webhook_ids) or (expires is not None and expires <= clock.now()):
        log.warning("jira.webhook.gone connection=%s; registering again", connection.pk)
        _save(connection, webhook_ids=[])  # nothing to keep: the next register starts clean
        webhook_sync(connection=connection, client=client, force=True)
        return
    _save(connection, webhook_expires_at=expires or clock.now() + LIFETIME, webhook_error="")
    log.info("jira.webhook.refreshed connection=%s until=%s", connection.pk, connection.webhook_expires_at)


def webhook_delete(*, connection: JiraConnection, client: JiraClient) -> None:
    if connection.webhook_ids:
        client.delete_webhooks(list(connection.webhook_ids))
        _save(connection, webhook_ids=[], webhook_jql="", webhook_expires_at=None)


def connections_due_for_refresh(now: dt.datetime) -> QuerySet[JiraConnection]:
    """Active connections whose registration expires within REFRESH_WHEN_LEFT, or that lack one."""
    return JiraConnection.objects.filter(status=JiraConnection.Status.ACTIVE).filter(
        Q(webhook_expires_at__lte=now + REFRESH_WHEN_LEFT) | Q(webhook_expires_at=None)
    )
