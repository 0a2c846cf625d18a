"""Catching up on webhooks Jira never delivered (DESIGN §9 "Missed webhooks").

Periodically, the issues linked to violations that Jira could still change (open ones, and ones Jira
resolved) are searched in batches (`key IN (…)`, with status and statuscategorychangedate) and the one
decision is applied to each, exactly as a webhook would. Every key asked about must come back: Jira
either answers 400 for a batch naming a deleted key or leaves the key out, so every missing key is
fetched on its own, and a 404 marks the link deleted, as if jira:issue_deleted had arrived.

Links whose violation a person or a scan resolved are history for the status (Jira's Done no longer
changes them), but their page still says "In Jira: KEY". Once a day, `reconcile_history` asks only
whether those issues still exist, so a deletion whose webhook was lost is noticed there too, at a
forty-eighth of the half-hourly run's searches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from allyproof.core import metrics
from allyproof.monitoring.models import Violation

from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.errors import (
    JiraError,
    JiraNotFound,
    JiraRateLimited,
    JiraTransientError,
    JiraUnknownOutcome,
    JiraValidationError,
)
from allyproof.integrations.jira.models import JiraConnection, JiraLink
from allyproof.integrations.jira.inbound.sync_apply import JIRA_SOURCE, link_mark_deleted, link_observe
from allyproof.integrations.jira.sync_log import sync_log_write
from allyproof.integrations.jira.inbound.payload import observe_issue

log = logging.getLogger(__name__)
BATCH = 50
# A pass reads only, so a busy moment is retried at once: one failed search used to end the whole
# connection's pass, leaving every Done issue of it unresolved for another period (found by the soak,
# where about 10 % of calls fail). Waits in seconds before each further try; a longer Retry-After
# than the last wait gives the batch up until the next pass.
RETRY_WAITS = (1.0, 3.0)
TRANSIENT = (JiraTransientError, JiraUnknownOutcome, JiraRateLimited)
FIELDS = ["status", "statuscategorychangedate"]


@dataclass
class Caught:
    resolved: int = 0
    reopened: int = 0
    deleted: int = 0
    ignored: int = 0


JIRA_RESOLVED = Q(violation__status=Violation.Status.RESOLVED, violation__resolved_by=None,
                  violation__resolved_source__startswith=JIRA_SOURCE)
WATCHED = Q(violation__status=Violation.Status.OPEN) | JIRA_RESOLVED


def _live_links(connection: JiraConnection, which: Q) -> list[JiraLink]:
    return list(JiraLink.objects.filter(
        which, organization_id=connection.organization_id, cloud_id=connection.cloud_id,
        status=JiraLink.Status.LINKED,
    ).order_by("pk"))


def _watched_links(connection: JiraConnection) -> list[JiraLink]:
    """Links whose Jira status can still change their violation: open ones, and ones Jira resolved."""
    return _live_links(connection, WATCHED)


def _history_links(connection: JiraConnection) -> list[JiraLink]:
    """Every other live link: its violation was resolved by a person or a scan (or is not open for another
    reason). Only whether its issue still exists matters."""
    return _live_links(connection, ~WATCHED)


def _apply(connection: JiraConnection, link: JiraLink, issue: dict, caught: Caught) -> None:
    decision = link_observe(link=link, seen=observe_issue(issue))
    if decision.action == "resolve":
        caught.resolved += 1
    elif decision.action == "reopen":
        caught.reopened += 1
    else:
        caught.ignored += 1
    if decision.changes_violation or decision.code == "done_before_reopen":
        sync_log_write(direction="reconcile", outcome="applied" if decision.changes_violation else "ignored",
                       code=decision.code, message=f"{decision.message} ({link.issue_key})", connection=connection,
                       violation_id=link.violation_id, issue_key=link.issue_key)


def _read(call: Callable[[], object], sleep: Callable[[float], None]):
    for wait in (*RETRY_WAITS, None):
        try:
            return call()
        except TRANSIENT as problem:
            asked = getattr(problem, "retry_after", None) or 0.0
            if wait is None or asked > RETRY_WAITS[-1]:
                raise
            sleep(max(wait, asked))
    raise AssertionError("unreachable: the last try raises or returns")


def _fetch(connection: JiraConnection, client: JiraClient, link: JiraLink, caught: Caught,
           sleep: Callable[[float], None] = time.sleep) -> dict | None:
    """The issue on its own; None (and the link marked deleted) when Jira answers 404."""
    try:
        return _read(lambda: client.get_issue(link.issue_key, fields=",".join(FIELDS)), sleep)
    except JiraNotFound:
        link_mark_deleted(link=link)
        caught.deleted += 1
        sync_log_write(direction="reconcile", outcome="applied", code="issue_deleted",
                       message=f"{link.issue_key} no longer exists in Jira; the violation can be pushed again",
                       connection=connection, violation_id=link.violation_id, issue_key=link.issue_key)
        return None


def _one(connection: JiraConnection, client: JiraClient, link: JiraLink, caught: Caught,
         sleep: Callable[[float], None] = time.sleep) -> None:
    issue = _fetch(connection, client, link, caught, sleep)
    if issue is not None:
        _apply(connection, link, issue, caught)


def _search(client: JiraClient, by_key: dict[str, JiraLink], batch_size: int,
            sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    try:
        return _read(lambda: client.search(f"key IN ({', '.join(by_key)})", fields=FIELDS, page_size=batch_size),
                     sleep)
    except JiraValidationError:  # a key in the batch no longer exists: every key on its own
        return []


def reconcile(*, connection: JiraConnection, client: JiraClient, batch_size: int = BATCH,
              sleep: Callable[[float], None] = time.sleep) -> Caught:
    """Raises the last JiraError when a batch could not be read even after retries; the other batches
    are applied first, so one failing batch no longer holds back the rest of the connection."""
    caught = Caught()
    links = _watched_links(connection)
    failed: JiraError | None = None
    for start in range(0, len(links), batch_size):
        batch = links[start : start + batch_size]
        by_key = {link.issue_key: link for link in batch}
        try:
            returned = set()
            for issue in _search(client, by_key, batch_size, sleep):
                link = by_key.get(issue.get("key"))
                if link is not None:
                    returned.add(link.issue_key)
                    _apply(connection, link, issue, caught)
            for key, link in by_key.items():
                if key not in returned:  # moved to another key, deleted, or left out by the search
                    _one(connection, client, link, caught, sleep)
        except TRANSIENT as problem:  # this batch waits for the next pass; the others go on
            failed = problem
    sync_log_write(direction="reconcile", outcome="applied" if caught.resolved + caught.reopened + caught.deleted
                   else "ignored", code="run",
                   message=f"checked {len(links)} linked issues: {caught.resolved} resolved, {caught.reopened} "
                   f"reopened, {caught.deleted} deleted in Jira, {caught.ignored} unchanged", connection=connection)
    if caught.resolved or caught.deleted or caught.reopened:
        log.info("jira.reconcile connection=%s resolved=%s reopened=%s deleted=%s", connection.pk, caught.resolved,
                 caught.reopened, caught.deleted)
    metrics.reconcile_decisions(checked=len(links), resolved=caught.resolved, deleted=caught.deleted)
    if failed is not None:
        raise failed
    return caught


def reconcile_history(*, connection: JiraConnection, client: JiraClient, batch_size: int = BATCH) -> Caught:
    """Whether the issues of links kept only as history still exist (see the module's docstring). Their
    status is not applied: a violation a person or a scan resolved stays as they left it."""
    caught = Caught()
    links = _history_links(connection)
    for start in range(0, len(links), batch_size):
        by_key = {link.issue_key: link for link in links[start : start + batch_size]}
        returned = {issue.get("key") for issue in _search(client, by_key, batch_size)}
        for key, link in by_key.items():
            if key not in returned:  # moved to another key, deleted, or left out by the search
                _fetch(connection, client, link, caught)
    sync_log_write(direction="reconcile", outcome="applied" if caught.deleted else "ignored", code="history_run",
                   message=f"checked that {len(links)} issues of resolved violations still exist: {caught.deleted} "
                   "deleted in Jira", connection=connection)
    if caught.deleted:
        log.info("jira.reconcile.history connection=%s deleted=%s", connection.pk, caught.deleted)
    return caught
