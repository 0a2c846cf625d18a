"""What Jira's events mean for AllyProof (DESIGN §9). Pure decisions, then one write each.

Only one transition is interpreted: an issue moving into a status whose *category* is Done
resolves the linked violation (status names differ across projects; categories don't). A deleted
issue leaves its link as history and makes the violation pushable again. Everything else is left
to the agency's team. Echoes of our own writes are dropped before any rule runs.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q

from allyproof.core import clock
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_resolve

from . import scan_fixed
from .inbound import HANDLERS, Event
from .models import InboundEvent, JiraConnection, JiraLink, OutboundWrite

log = logging.getLogger(__name__)
Outcome = tuple[str, str]


def moved_into_done(payload: dict[str, Any]) -> bool:
    """The changelog has a status change and the issue's status category is now Done."""
    items = (payload.get("changelog") or {}).get("items") or []
    status_changed = any(isinstance(i, dict) and i.get("field") == "status" for i in items)
    fields = (payload.get("issue") or {}).get("fields") or {}
    category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
    return status_changed and category == "done"


def is_echo(connection: JiraConnection, event: Event) -> bool:
    """A comment we wrote ourselves (e.g. "detected again") coming back as jira:issue_updated."""
    comment = event.payload.get("comment")
    if not isinstance(comment, dict) or not comment.get("id"):
        return False
    return OutboundWrite.objects.filter(cloud_id=connection.cloud_id, issue_key=event.issue_key, kind="comment",
                                        jira_id=str(comment["id"])).exists()


def _link(connection: JiraConnection, event: Event) -> JiraLink | None:
    """Our link to the event's issue: by id (stable across a move to another project), else by key."""
    match = Q(issue_id=event.issue_id) if event.issue_id else Q()
    if event.issue_key:
        match = match | Q(issue_key=event.issue_key) if event.issue_id else Q(issue_key=event.issue_key)
    if not match:
        return None
    links = list(JiraLink.objects.filter(match, cloud_id=connection.cloud_id, organization_id=connection.organization_id,
                                         status=JiraLink.Status.LINKED).select_related("violation")[:2])
    return next((link for link in links if event.issue_id and link.issue_id == event.issue_id), links[0] if links else None)


def on_issue_updated(connection: JiraConnection, event: Event) -> Outcome:
    if is_echo(connection, event):
        return InboundEvent.Outcome.ECHO, "our own comment"
    if scan_fixed.is_transition_echo(connection, event.payload):
        return InboundEvent.Outcome.ECHO, "our own move to Done (fixed by a scan)"
    link = _link(connection, event)
    if link is None:
        return InboundEvent.Outcome.IGNORED, "not an issue AllyProof created"
    if not moved_into_done(event.payload):
        return InboundEvent.Outcome.IGNORED, "not a move into Done"
    violation = link.violation
    if violation.status == Violation.Status.RESOLVED:
        return InboundEvent.Outcome.IGNORED, "already resolved"
    violation_resolve(violation=violation, source=f"jira:{link.issue_key}")
    log.info("jira.status_sync.resolved violation=%s key=%s", violation.pk, link.issue_key)
    return InboundEvent.Outcome.APPLIED, f"resolved by {link.issue_key}"


def on_issue_deleted(connection: JiraConnection, event: Event) -> Outcome:
    link = _link(connection, event)
    if link is None:
        return InboundEvent.Outcome.IGNORED, "not an issue AllyProof created"
    link.status, link.deleted_at = JiraLink.Status.DELETED, clock.now()
    link.save(update_fields=["status", "deleted_at"])
    return InboundEvent.Outcome.APPLIED, f"{link.issue_key} deleted in Jira; the violation can be pushed again"


HANDLERS.update({"jira:issue_updated": on_issue_updated, "jira:issue_deleted": on_issue_deleted})
