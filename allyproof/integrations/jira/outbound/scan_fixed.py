"""Tell Jira when a scan no longer finds a linked violation (it became "fixed — not detected").

Monitoring publishes ViolationsFixed after the scan commits; this module comments on each linked
issue, or (the site's option) comments and moves it into a Done-category status. Every write is
recorded as an OutboundWrite, so the webhooks Jira fires for them are recognised as our own echoes:
the comment by its id (status_sync.is_echo), the move by its target status (`is_transition_echo`).
"""

from __future__ import annotations

import datetime as dt
import logging

from allyproof.core import clock
from allyproof.monitoring.models import Scan, Violation

from allyproof.integrations.jira import status_category
from allyproof.integrations.jira.outbound import content
from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.models import JiraConnection, JiraLink, OutboundWrite, SiteSyncRule
from allyproof.integrations.jira.sync_log import sync_log_write

log = logging.getLogger(__name__)
ECHO_WINDOW = dt.timedelta(minutes=15)  # webhooks arrive within seconds; retries within minutes


def _done_transition(client: JiraClient, key: str) -> dict | None:
    return status_category.transition_into(client.get_transitions(key), status_category.DONE)


def _tell(client: JiraClient, connection: JiraConnection, link: JiraLink, scan: Scan, move_to_done: bool) -> None:
    comment = client.add_comment(link.issue_key, content.fixed_by_scan(scan.started_at))
    OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=link.issue_key, kind="comment",
                                 jira_id=str(comment.get("id", "")), created_at=clock.now())
    note = f"commented \u201cnot detected in a scan\u201d on {link.issue_key}"
    if move_to_done:
        note += "; " + _move_to_done(client, connection, link)
    sync_log_write(direction="outbound", outcome="written", code="fixed_by_scan", message=note, connection=connection,
                   violation_id=link.violation_id, issue_key=link.issue_key)


def _move_to_done(client: JiraClient, connection: JiraConnection, link: JiraLink) -> str:
    transition = _done_transition(client, link.issue_key)
    if transition is None:
        log.info("jira.scan_fixed.no_done_transition key=%s (already Done, or the workflow has none)", link.issue_key)
        return "no move to Done: already Done, or the workflow has none"
    client.transition_issue(link.issue_key, str(transition["id"]))
    OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=link.issue_key, kind="transition",
                                 jira_id=str((transition.get("to") or {}).get("id", "")), created_at=clock.now())
    return f"moved {link.issue_key} to {(transition.get('to') or {}).get('name', 'Done')}"


def scan_fixed(*, scan_id: int, violation_ids: list[int], client_for) -> int:
    """Returns how many issues were told. Skips violations reopened since (a later scan found them)."""
    scan = Scan.objects.select_related("site__organization").filter(pk=scan_id).first()
    if scan is None:
        return 0
    connection = connection_current(organization=scan.site.organization)
    if connection is None or not connection.is_active:
        return 0
    rule = SiteSyncRule.objects.filter(site=scan.site).first()
    move_to_done = rule is not None and rule.fixed_action == SiteSyncRule.FIXED_COMMENT_AND_DONE
    still_fixed = Violation.objects.filter(pk__in=violation_ids, status=Violation.Status.RESOLVED,
                                           resolved_source=f"scan:{scan.pk}")
    links = JiraLink.objects.filter(violation__in=still_fixed, cloud_id=connection.cloud_id,
                                    status=JiraLink.Status.LINKED)
    client, told = client_for(connection), 0
    for link in links:
        try:
            _tell(client, connection, link, scan, move_to_done)
            told += 1
        except JiraError as problem:
            log.warning("jira.scan_fixed.failed key=%s error=%s", link.issue_key, problem)
            sync_log_write(direction="outbound", outcome="failed", code="fixed_by_scan_failed",
                           message=f"could not tell {link.issue_key} the scan no longer finds it: {problem}",
                           connection=connection, violation_id=link.violation_id, issue_key=link.issue_key)
    return told


def is_transition_echo(connection: JiraConnection, payload: dict) -> bool:
    """A move into a status we asked for on this issue moments ago: our own write coming back."""
    issue_key = str((payload.get("issue") or {}).get("key", ""))
    targets = {str(item.get("to")) for item in (payload.get("changelog") or {}).get("items") or []
               if isinstance(item, dict) and item.get("field") == "status"}
    if not issue_key or not targets:
        return False
    return OutboundWrite.objects.filter(cloud_id=connection.cloud_id, issue_key=issue_key, kind="transition",
                                        jira_id__in=targets, created_at__gte=clock.now() - ECHO_WINDOW).exists()
