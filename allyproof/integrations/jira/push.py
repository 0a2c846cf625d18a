"""Pushing one violation to Jira, exactly once whatever fails (DESIGN §8).

1. Reserve the link row: a unique constraint on the dedupe key decides races between workers.
2. Mark the reservation "outcome unknown", then create the issue with the fingerprint label and a
   property carrying the dedupe key, then store the key. A crash anywhere leaves the mark set.
3. Creating an issue is not idempotent in Jira. Whenever the outcome is unknown (timeout, dropped
   connection, 5xx, a crash before the key was stored) we search `labels = allyproof-<fingerprint>`
   first, waiting out Jira's search lag, and only create again once search has had its chance.
A violation already linked returns its key without calling Jira.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from allyproof.core import clock, metrics
from allyproof.monitoring import wcag
from allyproof.monitoring.models import Violation

from . import content
from .client import JiraClient
from .errors import JiraError, JiraUnknownOutcome
from .gates import Situation, block_reason
from .models import JiraConnection, JiraLink, OutboundWrite, SiteSyncRule

log = logging.getLogger(__name__)
SEARCH_WAITS = (1.0, 2.0, 4.0)  # Jira's search is eventually consistent after a write
LIVE = (JiraLink.Status.CREATING, JiraLink.Status.LINKED)


class PushRefused(Exception):
    """A gate says no; the message is the reason shown to people."""


class PushInProgress(Exception):
    """Another worker holds this violation's reservation right now."""


@dataclass(frozen=True)
class PushResult:
    link: JiraLink
    created: bool  # False: it was already linked (or found by label after a lost response)


def absolute_violation_url(violation: Violation) -> str:
    """The link back to AllyProof written into the Jira issue."""
    from django.urls import reverse

    return settings.CONFIG.public_url + reverse("violation_detail", args=[violation.site_id, violation.pk])


def dedupe_key(*, organization_id: int, cloud_id: str, violation: Violation) -> str:
    identity = f"{organization_id}:{cloud_id}:{violation.site_id}:{violation.rule_id}"
    return hashlib.sha256(identity.encode()).hexdigest()


def live_link(violation: Violation, cloud_id: str) -> JiraLink | None:
    return JiraLink.objects.filter(violation=violation, cloud_id=cloud_id, status__in=LIVE).first()


def situation(*, violation: Violation, connection: JiraConnection | None, rule: SiteSyncRule | None,
              link: JiraLink | None) -> Situation:
    return Situation(
        connection_status=connection.status if connection else None,
        rule_enabled=bool(rule and rule.enabled and violation.site.active),
        project_key=rule.project_key if rule else "",
        severities=frozenset(rule.severities if rule else ()),
        impact=violation.impact,
        violation_status=violation.status,
        linked_key=None if link is None else link.issue_key,
    )


def issue_input(violation: Violation, *, key: str, violation_url: str) -> content.IssueInput:
    return content.IssueInput(
        rule_id=violation.rule_id, impact=violation.impact, help=violation.help, description=violation.description,
        help_url=violation.help_url, criteria=tuple(wcag.criteria(violation.wcag_tags)),
        levels=tuple(wcag.levels(violation.wcag_tags)), site_name=violation.site.name,
        site_url=violation.site.base_url, pages=tuple(violation.pages), page_count=violation.page_count,
        element_count=violation.element_count, samples=tuple(violation.samples), violation_url=violation_url,
        dedupe_key=key,
    )


def _reserve(*, violation: Violation, connection: JiraConnection, rule: SiteSyncRule, key: str, by) -> JiraLink:
    claim = secrets.token_hex(8)
    now = clock.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                # Marked "outcome unknown" from birth: the create follows, and a crash from here on
                # must make the next attempt search by label before creating.
                link = JiraLink.objects.create(
                    organization_id=connection.organization_id, violation=violation, cloud_id=connection.cloud_id,
                    dedupe_key=key, project_key=rule.project_key, created_by=by, created_at=now,
                    claim=claim, claimed_at=now, outcome_unknown=True,
                )
                link.outcome_unknown = False  # this attempt has nothing to search for
                return link
        except IntegrityError:
            link = JiraLink.objects.select_for_update().get(dedupe_key=key, status__in=LIVE)
        if link.status == JiraLink.Status.LINKED:
            return link
        stale_after = settings.CONFIG.jira_job_stale_seconds  # longer than any one attempt can take
        if link.claim and link.claimed_at and (now - link.claimed_at).total_seconds() < stale_after:
            raise PushInProgress("This violation is being pushed to Jira right now.")
        # A crashed or failed attempt left the reservation: take it over (and search first if unsure).
        was_unknown = link.outcome_unknown
        link.claim, link.claimed_at, link.outcome_unknown = claim, now, True
        link.save(update_fields=["claim", "claimed_at", "outcome_unknown"])
        link.outcome_unknown = was_unknown
        return link


def _store(link: JiraLink, issue: dict, site_url: str) -> JiraLink:
    link.status = JiraLink.Status.LINKED
    link.issue_key, link.issue_id = issue["key"], str(issue.get("id", ""))
    link.issue_url = f"{site_url.rstrip('/')}/browse/{issue['key']}"
    link.outcome_unknown, link.claim, link.claimed_at, link.linked_at = False, "", None, clock.now()
    link.save(update_fields=["status", "issue_key", "issue_id", "issue_url", "outcome_unknown", "claim",
                             "claimed_at", "linked_at"])
    return link


def _find_by_label(client: JiraClient, link: JiraLink, sleep: Callable[[float], None],
                   waits: tuple[float, ...]) -> dict | None:
    jql = f'project = "{link.project_key}" AND labels = "{link.label}"'
    for wait in (0.0, *waits):
        if wait:
            sleep(wait)
        found = client.search(jql, fields=["labels"], page_size=5)
        if found:
            return found[0]
    return None


def _release(link: JiraLink, *, was_unknown: bool) -> None:
    """A known failure: nothing was created by this attempt."""
    if was_unknown:
        JiraLink.objects.filter(pk=link.pk).update(claim="", claimed_at=None)
    else:
        link.delete()


def violation_push(
    *, violation: Violation, connection: JiraConnection, client: JiraClient, violation_url: str,
    by=None, sleep: Callable[[float], None] = time.sleep, search_waits: tuple[float, ...] = SEARCH_WAITS,
) -> PushResult:
    """Raises PushRefused, PushInProgress or a JiraError (the reservation is kept when unsure)."""
    rule = SiteSyncRule.objects.filter(site_id=violation.site_id).first()
    existing = live_link(violation, connection.cloud_id)
    if existing is not None and existing.status == JiraLink.Status.LINKED:
        return PushResult(existing, created=False)  # re-push: the same key, no call to Jira
    reason = block_reason(situation(violation=violation, connection=connection, rule=rule, link=None))
    if reason:
        raise PushRefused(reason)
    key = dedupe_key(organization_id=connection.organization_id, cloud_id=connection.cloud_id, violation=violation)
    link = _reserve(violation=violation, connection=connection, rule=rule, key=key, by=by)
    if link.status == JiraLink.Status.LINKED:
        return PushResult(link, created=False)
    was_unknown = link.outcome_unknown
    try:
        if was_unknown:
            found = _find_by_label(client, link, sleep, search_waits)
            if found:
                return PushResult(_store(link, found, connection.site_url), created=False)
        body = content.issue_body(issue_input(violation, key=key, violation_url=violation_url),
                                  project_key=link.project_key, issue_type_id=rule.issue_type_id or "", label=link.label)
        if not rule.issue_type_id:
            body["fields"]["issuetype"] = {"name": rule.issue_type_name or "Task"}
        issue = client.create_issue(body)
    except JiraUnknownOutcome:
        log.warning("jira.push.outcome_unknown violation=%s link=%s", violation.pk, link.pk)
        try:
            found = _find_by_label(client, link, sleep, search_waits)
        finally:
            JiraLink.objects.filter(pk=link.pk, status=JiraLink.Status.CREATING).update(claim="", claimed_at=None)
        if found:
            return PushResult(_store(link, found, connection.site_url), created=False)
        raise
    except JiraError:
        _release(link, was_unknown=was_unknown)
        raise
    except Exception:
        JiraLink.objects.filter(pk=link.pk).update(claim="", claimed_at=None)  # unsure: keep the mark
        raise
    with transaction.atomic():
        OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=issue["key"], kind="create",
                                     jira_id=str(issue.get("id", "")), created_at=clock.now())
        _store(link, issue, connection.site_url)
    log.info("jira.push.created violation=%s key=%s", violation.pk, issue["key"])
    metrics.issue_created()
    return PushResult(link, created=True)
