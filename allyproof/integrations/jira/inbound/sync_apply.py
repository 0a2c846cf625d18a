"""The writes status sync back makes, shared by the webhook handlers and reconciliation (no copies):
apply the one decision to a link, and mark a link deleted in Jira."""

from __future__ import annotations

import logging

from django.db import transaction

from allyproof.core import clock
from allyproof.monitoring.models import Violation

from allyproof.integrations.jira.models import JiraLink
from allyproof.integrations.jira.inbound.sync_decision import Decision, Facts, decide
from allyproof.integrations.jira.inbound.payload import Observation

log = logging.getLogger(__name__)
# Resolved by Jira: no person, and the source names the issue ("jira:ACME-12"); reconcile.py queries by it.
JIRA_SOURCE = "jira:"


def _facts(link: JiraLink, violation: Violation, seen: Observation) -> Facts:
    return Facts(
        violation_open=violation.status == Violation.Status.OPEN,
        resolved_by_jira=violation.status == Violation.Status.RESOLVED and not violation.resolved_by_id
        and violation.resolved_source.startswith(JIRA_SOURCE),
        opened_at=violation.reopened_at or violation.first_detected_at,
        known_changed_at=link.jira_category_changed_at, category=seen.category, changed_at=seen.changed_at,
    )


@transaction.atomic
def link_observe(*, link: JiraLink, seen: Observation) -> Decision:
    """Applies what Jira says about the link's issue now: resolve, reopen, or nothing (with the reason)."""
    violation = Violation.objects.select_for_update().get(pk=link.violation_id)
    link = JiraLink.objects.select_for_update().get(pk=link.pk)
    decision = decide(_facts(link, violation, seen))
    if decision.action == "resolve":
        violation.status, violation.resolved_at = Violation.Status.RESOLVED, clock.now()
        violation.resolved_by, violation.resolved_source = None, JIRA_SOURCE + link.issue_key
        violation.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_source"])
    elif decision.action == "reopen":
        violation.status, violation.resolved_at, violation.resolved_source = Violation.Status.OPEN, None, ""
        violation.reopened_at = seen.changed_at  # Jira's time: a Done after it counts, one before does not
        violation.save(update_fields=["status", "resolved_at", "resolved_source", "reopened_at"])
    seen_now = (seen.category[:20], seen.changed_at)
    if decision.code not in ("stale", "no_change_time") and (link.jira_category, link.jira_category_changed_at) != seen_now:
        link.jira_category, link.jira_category_changed_at = seen.category[:20], seen.changed_at
        link.save(update_fields=["jira_category", "jira_category_changed_at"])
    if decision.changes_violation:
        log.info("jira.status_sync.%s violation=%s key=%s", decision.action, violation.pk, link.issue_key)
    return decision


def link_mark_deleted(*, link: JiraLink) -> None:
    """The issue no longer exists in Jira: the link stays as history, the violation can be pushed again."""
    updated = JiraLink.objects.filter(pk=link.pk, status=JiraLink.Status.LINKED).update(
        status=JiraLink.Status.DELETED, deleted_at=clock.now())
    if updated:
        link.status = JiraLink.Status.DELETED
        log.info("jira.link.deleted link=%s key=%s", link.pk, link.issue_key)
