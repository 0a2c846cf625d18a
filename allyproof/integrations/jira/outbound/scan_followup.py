"""The Jira work a completed scan causes, made durable (product page: Auto-push; DESIGN §9 Loop safety).

A scan's completion writes one ScanFollowUp row (after commit) and queues it; the sweeper re-queues a
row that is still pending or whose runner went silent. Running it twice is safe: the "detected again"
comment is reserved per (link, scan) before it is posted, and auto-push (issue 8's engine) is exactly-once
per violation. The regression policy of the site's rule decides whether the Jira issue is also moved
back to a To Do-category status; both writes are recorded as ours, so their echoes change nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Q

from allyproof.core import clock
from allyproof.monitoring.events import ScanCompleted
from allyproof.monitoring.models import Site

from allyproof.integrations.jira import status_category
from allyproof.integrations.jira.outbound import autopush
from allyproof.integrations.jira.outbound import content
from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.outbound.job_control import heartbeat_stale
from allyproof.integrations.jira.models import (
    DetectedAgainComment,
    JiraConnection,
    JiraLink,
    OutboundWrite,
    ScanFollowUp,
    SiteSyncRule,
)
from allyproof.integrations.jira.sync_log import sync_log_write

log = logging.getLogger(__name__)


def scan_followup_record(*, event: ScanCompleted) -> ScanFollowUp | None:
    """One row per scan (the receiver queues it); None when the same scan was announced before."""
    try:
        return ScanFollowUp.objects.create(scan_id=event.scan_id, site_id=event.site_id,
                                           new_violation_ids=list(event.new_violation_ids),
                                           reopened_violation_ids=list(event.reopened_violation_ids),
                                           created_at=clock.now())
    except IntegrityError:
        return None


def _marker(scan_id: int) -> str:
    return f"[AllyProof scan {scan_id}]"


def _comment_body(scan_id: int, reopen: bool) -> dict:
    body = content.detected_again(clock.now())
    text = body["content"][0]["content"][0]
    if reopen:
        text["text"] = text["text"].replace("The Jira issue was left as it is.", "The Jira issue was moved back to To Do.")
    text["text"] += f" {_marker(scan_id)}"
    return body


def _already_posted(client: JiraClient, link: JiraLink, scan_id: int) -> str:
    """The id of a comment a crashed earlier run posted for this scan, if any (found by its marker)."""
    issue = client.get_issue(link.issue_key, fields="comment")
    for comment in ((issue.get("fields") or {}).get("comment") or {}).get("comments", []):
        if _marker(scan_id) in str(comment.get("body")):
            return str(comment.get("id", ""))
    return ""


def _reopen_in_jira(client: JiraClient, connection: JiraConnection, link: JiraLink) -> str:
    todo = status_category.transition_into(client.get_transitions(link.issue_key), status_category.TODO)
    if todo is None:
        return "no transition to a To Do-category status is available"
    client.transition_issue(link.issue_key, str(todo["id"]))
    OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=link.issue_key, kind="transition",
                                 jira_id=str(todo["id"]), created_at=clock.now())
    return f"moved {link.issue_key} to {todo.get('to', {}).get('name', 'To Do')}"


def detected_again_one(*, link: JiraLink, scan_id: int, connection: JiraConnection, client: JiraClient,
                       reopen: bool) -> bool:
    """Posts the comment at most once per (link, scan); True when this call posted it."""
    try:
        with transaction.atomic():
            mark = DetectedAgainComment.objects.create(link=link, scan_id=scan_id, created_at=clock.now())
    except IntegrityError:
        mark = DetectedAgainComment.objects.get(link=link, scan_id=scan_id)
        if mark.comment_id or _already_posted(client, link, scan_id):
            return False
    comment = client.add_comment(link.issue_key, _comment_body(scan_id, reopen))
    mark.comment_id = str(comment.get("id", ""))
    mark.save(update_fields=["comment_id"])
    OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=link.issue_key, kind="comment",
                                 jira_id=mark.comment_id, created_at=clock.now())
    note = f"commented \u201cdetected again\u201d on {link.issue_key}"
    if reopen:
        note += "; " + _reopen_in_jira(client, connection, link)
    sync_log_write(direction="outbound", outcome="written", code="detected_again", message=note,
                   connection=connection, violation_id=link.violation_id, issue_key=link.issue_key)
    return True


def _detected_again(row: ScanFollowUp, connection: JiraConnection, client: JiraClient) -> int:
    rule = SiteSyncRule.objects.filter(site_id=row.site_id).first()
    reopen = rule is not None and rule.regression_policy == SiteSyncRule.Regression.REOPEN
    posted = 0
    for link in JiraLink.objects.filter(violation_id__in=row.reopened_violation_ids, cloud_id=connection.cloud_id,
                                        status=JiraLink.Status.LINKED).order_by("pk"):
        try:
            posted += detected_again_one(link=link, scan_id=row.scan_id, connection=connection, client=client,
                                         reopen=reopen)
        except JiraError as problem:
            sync_log_write(direction="outbound", outcome="failed", code="detected_again_failed",
                           message=f"could not comment on {link.issue_key}: {problem}", connection=connection,
                           violation_id=link.violation_id, issue_key=link.issue_key)
            raise
    return posted


def _claim(followup_id: int) -> ScanFollowUp | None:
    stale = clock.now() - heartbeat_stale()
    with transaction.atomic():
        row = ScanFollowUp.objects.select_for_update().filter(pk=followup_id).first()
        if row is None or row.status == ScanFollowUp.Status.DONE:
            return None
        if row.status == ScanFollowUp.Status.RUNNING and row.heartbeat_at and row.heartbeat_at > stale:
            return None  # another runner is alive
        row.status, row.heartbeat_at, row.attempts = ScanFollowUp.Status.RUNNING, clock.now(), row.attempts + 1
        row.save(update_fields=["status", "heartbeat_at", "attempts"])
    return row


def scan_followup_run(*, followup_id: int, client_for, enqueue: Callable[[int], None] | None) -> bool:
    """Runs (or resumes) one scan's Jira work. True when it finished."""
    row = _claim(followup_id)
    if row is None:
        return False
    site = Site.objects.select_related("organization").get(pk=row.site_id)
    connection = connection_current(organization=site.organization)
    try:
        if connection is not None and connection.is_active:
            client = client_for(connection)
            if row.reopened_violation_ids:
                _detected_again(row, connection, client)
            autopush.auto_push(site_id=row.site_id, new_violation_ids=row.new_violation_ids, connection=connection,
                               client=client, enqueue=enqueue)
    except JiraError as problem:  # left pending: the sweeper tries again
        row.status, row.last_error = ScanFollowUp.Status.PENDING, str(problem)[:300]
        row.save(update_fields=["status", "last_error"])
        log.warning("jira.scan_followup.failed followup=%s error=%s", row.pk, problem)
        return False
    row.status, row.finished_at, row.last_error = ScanFollowUp.Status.DONE, clock.now(), ""
    row.save(update_fields=["status", "finished_at", "last_error"])
    return True


def scan_followups_resume(*, enqueue: Callable[[int], None], now: dt.datetime | None = None) -> list[int]:
    """For the sweeper: re-queues rows left pending or whose runner went silent. Returns their ids."""
    now = now or clock.now()
    stale = now - heartbeat_stale()
    ids = list(ScanFollowUp.objects.filter(
        Q(status=ScanFollowUp.Status.PENDING, created_at__lte=stale)
        | Q(status=ScanFollowUp.Status.RUNNING, heartbeat_at__lte=stale)).values_list("pk", flat=True))
    for pk in ids:
        enqueue(pk)
    return ids
