"""Each connection's dynamic webhook: register, re-register, refresh, heal, delete (DESIGN §6, §9).

Atlassian allows 5 dynamic webhooks per app per user per site, expires them 30 days after creation
or refresh, and a 200 from register can carry per-item errors. Two organizations may share one Jira
site and one Atlassian account: they see each other's registrations in the list, told apart only by
URL. So each connection has its own callback URL and only ever lists, replaces or deletes registrations
with that URL. A failed or partial registration is retried with backoff by the periodic job until the
registered filter matches the rules; a refresh compares the registered filter with the rules.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse

from allyproof.core import clock

from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.errors import (
    JiraError,
    JiraNotFound,
    JiraUnknownOutcome,
    JiraValidationError,
)
from allyproof.integrations.jira.models import JiraConnection, SiteSyncRule
from allyproof.integrations.jira.sync_log import sync_log_write
from allyproof.integrations.jira.words import projects_in_words

log = logging.getLogger(__name__)
EVENTS = ["jira:issue_updated", "jira:issue_deleted"]
LIFETIME = dt.timedelta(days=30)
REFRESH_WHEN_LEFT = dt.timedelta(days=15)
BACKOFF_FIRST, BACKOFF_MAX = dt.timedelta(minutes=1), dt.timedelta(hours=6)


def webhook_url(connection: JiraConnection) -> str:
    return settings.CONFIG.public_url + reverse("jira_webhook", kwargs={"token": connection.webhook_token})


def enabled_rules(connection: JiraConnection) -> QuerySet[SiteSyncRule]:
    return SiteSyncRule.objects.filter(
        site__organization_id=connection.organization_id, site__active=True, enabled=True
    ).exclude(project_key="")


def desired_keys(connection: JiraConnection) -> list[str]:
    return sorted(set(enabled_rules(connection).values_list("project_key", flat=True)))


def desired_jql(connection: JiraConnection) -> str:
    """`project IN (ACME, WEB)` over the enabled sites' keys; "" when no site is enabled.

    Only project, issueKey, issuetype, status, assignee and reporter can filter a dynamic webhook
    (labels cannot), so we filter by project and check the link in the handler."""
    keys = desired_keys(connection)
    return f"project IN ({', '.join(keys)})" if keys else ""


def _ours(connection: JiraConnection, client: JiraClient) -> list[dict]:
    url = webhook_url(connection)
    return [hook for hook in client.list_webhooks() if hook.get("url") == url]


def _save(connection: JiraConnection, **fields) -> None:
    for name, value in fields.items():
        setattr(connection, name, value)
    connection.save(update_fields=list(fields))


def _register(connection: JiraConnection, client: JiraClient, jql: str) -> list[int]:
    keep = set(connection.webhook_ids)
    for stray in _ours(connection, client):  # left by a crash between register and save: delete first
        if stray["id"] not in keep:
            client.delete_webhooks([stray["id"]])
    try:
        results = client.register_webhooks(url=webhook_url(connection),
                                           webhooks=[{"events": EVENTS, "jqlFilter": jql}])
    except JiraUnknownOutcome:
        # The registration may exist: adopt what Jira has for this filter rather than add another.
        adopted = [h["id"] for h in _ours(connection, client) if h.get("jqlFilter") == jql and h["id"] not in keep]
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


def backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_FIRST * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _failed(connection: JiraConnection, problem: JiraError) -> None:
    attempts = connection.webhook_attempts + 1
    _save(connection, webhook_error=str(problem)[:500], webhook_attempts=attempts,
          webhook_retry_at=clock.now() + backoff(attempts))
    sync_log_write(direction="registration", outcome="failed", code="register_failed",
                   message=f"registering failed (attempt {attempts}): {problem}", connection=connection)
    log.warning("jira.webhook.register_failed connection=%s attempts=%s error=%s", connection.pk, attempts, problem)


def webhook_sync(*, connection: JiraConnection, client: JiraClient, force: bool = False) -> None:
    """Makes Jira's registration match the enabled projects: new first, then the old one deleted.
    On failure the problem is kept on the connection and a retry is scheduled (then re-raised)."""
    jql = desired_jql(connection)
    if not force and jql == connection.webhook_jql and bool(connection.webhook_ids) == bool(jql) \
            and not connection.webhook_error:
        return
    old = list(connection.webhook_ids)
    try:
        new = _register(connection, client, jql) if jql else []
    except JiraError as problem:
        _failed(connection, problem)
        raise
    _save(connection, webhook_ids=new, webhook_jql=jql, webhook_error="", webhook_attempts=0, webhook_retry_at=None,
          webhook_expires_at=clock.now() + LIFETIME if new else None)
    stale = [i for i in old if i not in new]
    if stale:
        try:
            client.delete_webhooks(stale)
        except JiraError as problem:  # it expires on its own in 30 days; the next sync sweeps strays too
            log.warning("jira.webhook.delete_old_failed connection=%s error=%s", connection.pk, problem)
    sync_log_write(direction="registration", outcome="written", code="registered",
                   message=f"registered for changes in {projects_in_words(jql)}" if jql else "no project enabled: nothing registered",
                   connection=connection)
    log.info("jira.webhook.synced connection=%s ids=%s jql=%r", connection.pk, new, jql)


def _registered_matches(connection: JiraConnection, listed: dict[int, dict], jql: str) -> bool:
    return bool(connection.webhook_ids) and all(
        i in listed and listed[i].get("jqlFilter") == jql for i in connection.webhook_ids)


def webhook_refresh(*, connection: JiraConnection, client: JiraClient) -> None:
    """Extends the registration's life, after checking that what Jira has matches the rules now:
    re-registers when it is gone, expired, or registered for another filter."""
    jql = desired_jql(connection)
    expired = connection.webhook_expires_at is not None and connection.webhook_expires_at <= clock.now()
    if not jql or not connection.webhook_ids or expired or connection.webhook_jql != jql:
        webhook_sync(connection=connection, client=client, force=True)
        return
    try:
        listed = {hook["id"]: hook for hook in _ours(connection, client)}
        matches = _registered_matches(connection, listed, jql)
        expires = client.refresh_webhooks(list(connection.webhook_ids)) if matches else None
    except (JiraNotFound, JiraValidationError):
        matches, expires = False, None
    if not matches or (expires is not None and expires <= clock.now()):
        log.warning("jira.webhook.mismatch connection=%s; registering again", connection.pk)
        webhook_sync(connection=connection, client=client, force=True)
        return
    _save(connection, webhook_expires_at=expires or clock.now() + LIFETIME, webhook_error="")
    log.info("jira.webhook.refreshed connection=%s until=%s", connection.pk, connection.webhook_expires_at)


def webhook_heal(*, connection: JiraConnection, client: JiraClient) -> bool:
    """The periodic retry: re-registers when the last attempt failed (after its backoff) or when the
    registered filter no longer matches the rules. True when it tried."""
    jql = desired_jql(connection)
    due = connection.webhook_retry_at is None or connection.webhook_retry_at <= clock.now()
    broken = bool(connection.webhook_error) or jql != connection.webhook_jql or bool(jql) != bool(connection.webhook_ids)
    if not (broken and due):
        return False
    webhook_sync(connection=connection, client=client, force=True)
    return True


def webhook_delete(*, connection: JiraConnection, client: JiraClient) -> None:
    ids = set(connection.webhook_ids) | {h["id"] for h in _ours(connection, client)}
    if ids:
        client.delete_webhooks(sorted(ids))
    _save(connection, webhook_ids=[], webhook_jql="", webhook_expires_at=None)


def connections_due_for_refresh(now: dt.datetime) -> QuerySet[JiraConnection]:
    """Active connections whose registration expires within REFRESH_WHEN_LEFT, or that lack one."""
    return JiraConnection.objects.active().filter(
        Q(webhook_expires_at__lte=now + REFRESH_WHEN_LEFT) | Q(webhook_expires_at=None)
    )


def connections_to_heal(now: dt.datetime) -> QuerySet[JiraConnection]:
    return JiraConnection.objects.active().filter(
        Q(webhook_retry_at=None) | Q(webhook_retry_at__lte=now))
