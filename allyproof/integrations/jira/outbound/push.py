"""Pushing one violation to Jira, exactly once whatever fails (DESIGN §8).

1. Reserve the link row: a unique constraint on the dedupe key decides races between workers.
2. Store when the create is sent (before it leaves, so a crash at any step counts it), then create the
   issue with the fingerprint label and a property carrying the dedupe key, then store the key.
3. Creating an issue is not idempotent in Jira. Whenever the outcome is unknown (timeout, dropped
   connection, 5xx, unreadable 2xx, a crash before the key was stored) the protocol in outcome.py
   decides: search by label, wait (raise PushChecking: the caller defers, nothing sleeps), or create
   again once Jira can no longer commit the first create and search has had its chance.
4. A create that followed an unknown outcome is looked at again once search has caught up
   (converge.py): a duplicate Jira produced anyway is linked to the oldest issue and closed.
A violation already linked returns its key without calling Jira.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from allyproof.core import clock, metrics
from allyproof.monitoring import wcag
from allyproof.monitoring.models import Violation

from allyproof.integrations.jira.outbound import content
from allyproof.integrations.jira.outbound import outcome
from allyproof.integrations.jira.outbound import triage
from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.errors import JiraError, JiraRateLimited, JiraUnknownOutcome
from allyproof.integrations.jira.outbound.gates import block_reason
from allyproof.integrations.jira.models import JiraConnection, JiraLink, OutboundWrite, SiteSyncRule
from allyproof.integrations.jira.outbound.situation import LIVE, claim_fresh, situation

log = logging.getLogger(__name__)
SEARCH_RETRY = dt.timedelta(seconds=30)  # a label search that failed is tried again this much later


class PushRefused(Exception):
    """A gate says no; the message is the reason shown to people."""


class PushInProgress(Exception):
    """Another worker holds this violation's reservation right now."""


class PushChecking(Exception):
    """An earlier create's outcome is unknown: Jira is being checked; come back at `until`."""

    def __init__(self, until: dt.datetime):
        self.until = until
        super().__init__("Checking Jira…")


@dataclass(frozen=True)
class PushResult:
    link: JiraLink
    created: bool  # False: it was already linked, or found by label
    # True: found by label after a create of ours whose outcome was unknown (a lost answer, a crash): it is
    # this push's issue, not one someone had made before
    found: bool = False


def absolute_violation_url(violation: Violation) -> str:
    """The link back to AllyProof written into the Jira issue."""
    from django.urls import reverse

    return settings.CONFIG.public_url + reverse("violation_detail", args=[violation.site_id, violation.pk])


def dedupe_key(*, organization_id: int, cloud_id: str, violation: Violation) -> str:
    identity = f"{organization_id}:{cloud_id}:{violation.site_id}:{violation.rule_id}"
    return hashlib.sha256(identity.encode()).hexdigest()


def live_link(violation: Violation, cloud_id: str) -> JiraLink | None:
    return JiraLink.objects.filter(violation=violation, cloud_id=cloud_id, status__in=LIVE).first()


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
    try:
        # Its own transaction, not a savepoint in one (two statements fewer on every push): the unique
        # key decides the race either way, and the loser locks the winner's row in the next one.
        with transaction.atomic():
            # Inserted already counted as sent (one write fewer per push): the create follows at
            # once, and a crash from here on must make the next attempt run the protocol.
            link = JiraLink.objects.create(
                organization_id=connection.organization_id, violation=violation, cloud_id=connection.cloud_id,
                dedupe_key=key, project_key=rule.project_key, created_by=by, created_at=now,
                claim=claim, claimed_at=now, sent_at=now, outcome_unknown=True,
            )
        link.fresh = True  # this attempt itself has nothing outstanding to look for
        return link
    except IntegrityError:  # another attempt holds the key: its row is locked and read below
        pass
    with transaction.atomic():
        link = JiraLink.objects.select_for_update().get(dedupe_key=key, status__in=LIVE)
        if link.status == JiraLink.Status.LINKED:
            return link
        if claim_fresh(link, now=now):
            raise PushInProgress("This violation is being pushed to Jira right now.")
        # A crashed, failed or waiting attempt left the reservation: take it over. Its sent_at says
        # whether a create may be outstanding; the protocol decides what this attempt may do.
        # A reservation marked unsure before sent_at existed: its create left when it was last claimed.
        # Stored now, before this takeover's claim time overwrites that.
        link.sent_at = _sent_at(link)
        link.claim, link.claimed_at = claim, now
        link.save(update_fields=["claim", "claimed_at", "sent_at"])
        return link


def _store(link: JiraLink, issue: dict, site_url: str, windows: outcome.Windows) -> JiraLink:
    now = clock.now()
    link.status = JiraLink.Status.LINKED
    link.issue_key, link.issue_id = issue["key"], str(issue.get("id", ""))
    link.issue_url = f"{site_url.rstrip('/')}/browse/{issue['key']}"
    link.outcome_unknown, link.claim, link.claimed_at, link.linked_at = False, "", None, now
    # After an unknown outcome a duplicate is possible (a commit later than any window): look again
    # by label once search has caught up with whatever Jira did meanwhile.
    link.verify_at = now + windows.total() if link.after_unknown else None
    link.save(update_fields=["status", "issue_key", "issue_id", "issue_url", "outcome_unknown", "claim",
                             "claimed_at", "linked_at", "verify_at"])
    return link


def find_by_label(client: JiraClient, link: JiraLink) -> list[dict]:
    """Every issue carrying the violation's label in its project, oldest first."""
    jql = f'project = "{link.project_key}" AND labels = "{link.label}" ORDER BY created ASC'
    found = client.search(jql, fields=["labels", "created", "status"], page_size=50)
    return sorted(found, key=lambda issue: int(issue.get("id", 0)))


def _release(link: JiraLink) -> None:
    JiraLink.objects.filter(pk=link.pk, claim=link.claim).update(claim="", claimed_at=None)


def _known_failure(link: JiraLink) -> None:
    """Jira refused this create: nothing is outstanding (and nothing ever was unless after_unknown)."""
    if not link.after_unknown:
        link.delete()
        return
    JiraLink.objects.filter(pk=link.pk).update(sent_at=None, outcome_unknown=False, claim="", claimed_at=None)


def _sent_at(link: JiraLink):
    """A reservation marked unsure before sent_at existed counts as sent when it was last claimed."""
    if link.sent_at is None and link.outcome_unknown:
        return link.claimed_at or link.created_at
    return link.sent_at


def _check_unknown(client: JiraClient, link: JiraLink, windows: outcome.Windows) -> dict | None:
    """Runs the protocol until it allows a create (returns None) or finds the issue; else PushChecking."""
    while True:
        now = clock.now()
        step = outcome.next_step(sent_at=_sent_at(link), checked_at=link.checked_at, now=now, windows=windows)
        if step.action == "create":
            return None
        if not link.after_unknown:  # a crash or a lost answer left this reservation unsure
            link.after_unknown = True
            link.save(update_fields=["after_unknown"])
        if step.action == "wait":
            _release(link)
            raise PushChecking(step.at)
        try:
            found = find_by_label(client, link)
        except JiraError as problem:
            _release(link)
            wait = problem.retry_after if isinstance(problem, JiraRateLimited) and problem.retry_after else None
            raise PushChecking(now + (dt.timedelta(seconds=wait) if wait else SEARCH_RETRY)) from problem
        if found:
            return found[0]
        link.checked_at = now  # the time the search was sent: what it saw is at least that fresh
        link.save(update_fields=["checked_at"])


def violation_push(
    *, violation: Violation, connection: JiraConnection, client: JiraClient, violation_url: str,
    by=None, windows: outcome.Windows | None = None,
) -> PushResult:
    """Raises PushRefused, PushInProgress, PushChecking or a JiraError (the reservation is kept when unsure)."""
    rule = SiteSyncRule.objects.filter(site_id=violation.site_id).first()
    existing = live_link(violation, connection.cloud_id)
    if existing is not None and existing.status == JiraLink.Status.LINKED:
        return PushResult(existing, created=False)  # re-push: the same key, no call to Jira
    reason = block_reason(situation(violation=violation, connection=connection, rule=rule, link=None))
    if reason:
        raise PushRefused(reason)
    windows = windows or outcome.Windows.from_config(settings.CONFIG)
    key = dedupe_key(organization_id=connection.organization_id, cloud_id=connection.cloud_id, violation=violation)
    link = _reserve(violation=violation, connection=connection, rule=rule, key=key, by=by)
    if link.status == JiraLink.Status.LINKED:
        return PushResult(link, created=False)
    issue = None
    for _ in range(3):  # a create, then (with zero windows only) a retry the protocol allows at once
        try:
            found = None if getattr(link, "fresh", False) else _check_unknown(client, link, windows)
        except PushChecking:
            raise
        except Exception:
            _release(link)
            raise
        if found:
            return PushResult(_store(link, found, connection.site_url, windows), created=False, found=True)
        issue = _create(client, link, violation=violation, rule=rule, key=key, violation_url=violation_url,
                        windows=windows)
        if issue is not None:
            break
    if issue is None:
        _release(link)
        raise PushChecking(clock.now() + windows.total())
    with transaction.atomic():
        OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=issue["key"], kind="create",
                                     jira_id=str(issue.get("id", "")), created_at=clock.now())
        _store(link, issue, connection.site_url, windows)
    log.info("jira.push.created violation=%s key=%s", violation.pk, issue["key"])
    metrics.issue_created()
    return PushResult(link, created=True)


def _create(client: JiraClient, link: JiraLink, *, violation: Violation, rule: SiteSyncRule, key: str,
            violation_url: str, windows: outcome.Windows) -> dict | None:
    """The created (or, after an unknown outcome, found) issue; None when the protocol allows another try."""
    body = content.issue_body(issue_input(violation, key=key, violation_url=violation_url),
                              project_key=link.project_key, issue_type_id=rule.issue_type_id or "", label=link.label,
                              triage=triage.for_rule(rule))
    if not rule.issue_type_id:
        body["fields"]["issuetype"] = {"name": rule.issue_type_name or "Task"}
    if getattr(link, "fresh", False):
        link.fresh = False  # sent_at was stored with the reservation, a moment ago
    else:  # committed before the create leaves: from here on a crash counts as an unknown outcome
        # A search from before this send says nothing about it, even at the same clock reading (a coarse
        # clock; zero windows): the protocol starts again from its first look, also after a crash.
        link.sent_at, link.outcome_unknown, link.checked_at = clock.now(), True, None
        link.save(update_fields=["sent_at", "outcome_unknown", "checked_at"])
    try:
        return client.create_issue(body)
    except JiraUnknownOutcome:
        log.warning("jira.push.outcome_unknown violation=%s link=%s", violation.pk, link.pk)
        link.after_unknown = True
        link.save(update_fields=["after_unknown"])
    except JiraError:
        _known_failure(link)
        raise
    except Exception:
        _release(link)  # our own failure mid-request: unsure, the marks stay (a killed process releases nothing)
        raise
    try:  # outside the clauses above, so that our own failure during the look is released too
        return _check_unknown(client, link, windows)  # the first look if due (after a timeout), else PushChecking
    except PushChecking:
        raise
    except Exception:
        _release(link)
        raise
