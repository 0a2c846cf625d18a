"""Auto-push and the "detected again" comment, run when a scan completes (product page: Auto-push).

Forward-only: only violations first detected at or after the rule's `auto_push_since` are eligible,
so switching auto-push on never dumps the backlog. The same gates as every manual push apply, and the
same exactly-once reservation, so a re-scan never creates a duplicate. Before queueing, the project is
checked in Jira (issue type, required fields): a problem is recorded on the rule and shown to admins
instead of failing every push.
"""

from __future__ import annotations

import logging

from allyproof.core import clock
from allyproof.monitoring.models import Site, Violation

from allyproof.integrations.jira.outbound import content
from allyproof.integrations.jira.outbound import gates
from allyproof.integrations.jira.outbound import job_control, jobs
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.connection.errors import (
    JiraError,
    JiraRateLimited,
    JiraTransientError,
    JiraUnknownOutcome,
)
from allyproof.integrations.jira.models import JiraConnection, JiraLink, OutboundWrite, PushJob, SiteSyncRule
from allyproof.integrations.jira.outbound.situation import situation

log = logging.getLogger(__name__)


def auto_push(*, site_id: int, new_violation_ids: list[int], connection: JiraConnection,
              client: JiraClient, enqueue: job_control.Enqueue | None) -> PushJob | None:
    rule = SiteSyncRule.objects.select_related("site").filter(site_id=site_id).first()
    if rule is None or not rule.auto_push or rule.auto_push_since is None:
        return None
    candidates = Violation.objects.filter(pk__in=new_violation_ids, site_id=site_id,
                                          first_detected_at__gte=rule.auto_push_since).select_related("site")
    eligible = [v for v in candidates
                if gates.block_reason(situation(violation=v, connection=connection, rule=rule, link=None)) is None]
    if not eligible:
        return None
    try:
        check = rules.check_project(client, rule.project_key, rule.issue_type_name)
    except (JiraRateLimited, JiraTransientError, JiraUnknownOutcome):
        # Jira busy or the network failing says nothing about the project: the scan's follow-up stays
        # pending and is run again. Recording a pause here instead returned "nothing to push", the
        # follow-up was done, and this scan's new violations were never auto-pushed (found by the soak).
        raise
    except JiraError as problem:
        check = rules.ProjectCheck("", "", (f"Could not check {rule.project_key} in Jira: {problem}",))
    if check.problems:
        SiteSyncRule.objects.filter(pk=rule.pk).update(problems=[f"Auto-push paused: {p}" for p in check.problems])
        log.warning("jira.auto_push.blocked site=%s problems=%s", site_id, check.problems)
        return None
    SiteSyncRule.objects.filter(pk=rule.pk).update(problems=[], issue_type_id=check.issue_type_id,
                                                   issue_type_name=check.issue_type_name)
    return jobs.push_job_create(site=rule.site, violations=eligible, kind=PushJob.Kind.AUTO,
                                project_key=rule.project_key, enqueue=enqueue)


def detected_again(*, reopened_violation_ids: list[int], connection: JiraConnection, client: JiraClient) -> int:
    """A resolved violation that a scan found again is reopened in AllyProof; say so on its issue.

    The comment is recorded with the id Jira returns, so the jira:issue_updated it causes on a Done
    issue is recognised as our own echo and never resolves the violation again."""
    links = JiraLink.objects.filter(violation_id__in=reopened_violation_ids, cloud_id=connection.cloud_id,
                                    status=JiraLink.Status.LINKED)
    commented = 0
    for link in links:
        try:
            comment = client.add_comment(link.issue_key, content.detected_again(clock.now()))
        except JiraError as problem:
            log.warning("jira.detected_again.failed key=%s error=%s", link.issue_key, problem)
            continue
        OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=link.issue_key, kind="comment",
                                     jira_id=str(comment.get("id", "")), created_at=clock.now())
        commented += 1
    return commented


def scan_completed(*, site_id: int, new_violation_ids: list[int], reopened_violation_ids: list[int],
                   client_for, enqueue: job_control.Enqueue | None) -> PushJob | None:
    site = Site.objects.select_related("organization").filter(pk=site_id).first()
    if site is None:
        return None
    connection = connection_current(organization=site.organization)
    if connection is None or not connection.is_active:
        return None
    client = client_for(connection)
    if reopened_violation_ids:
        detected_again(reopened_violation_ids=reopened_violation_ids, connection=connection, client=client)
    return auto_push(site_id=site_id, new_violation_ids=new_violation_ids, connection=connection, client=client,
                     enqueue=enqueue)
