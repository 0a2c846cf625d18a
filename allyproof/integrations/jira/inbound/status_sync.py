"""What Jira's events mean for AllyProof (DESIGN §9): a table of small handlers, then one shared write.

Every `jira:issue_updated` carries the issue as it is now, so each one goes through the one decision
(`sync_decision`): resolved by Jira only when the issue entered a Done-category status after the
violation's last (re)open. Echoes of our own comments are dropped by comment id before any rule runs
(only that comment: a person's later change on the same issue still counts). A deleted issue leaves its
link as history and makes the violation pushable again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from allyproof.integrations.jira.outbound import scan_fixed
from allyproof.integrations.jira.models import InboundEvent, JiraConnection, JiraLink, OutboundWrite
from allyproof.integrations.jira.inbound.sync_apply import link_mark_deleted, link_observe
from allyproof.integrations.jira.inbound.payload import Event, observe_event


@dataclass(frozen=True)
class Handled:
    outcome: str
    code: str
    message: str
    violation_id: int | None = None


def link_for(connection: JiraConnection, event: Event) -> JiraLink | None:
    """Our live link to the event's issue: by id (stable across a move to another project), else by key."""
    match = Q()
    if event.issue_id:
        match |= Q(issue_id=event.issue_id)
    if event.issue_key:
        match |= Q(issue_key=event.issue_key)
    if not match:
        return None
    links = list(JiraLink.objects.filter(match, cloud_id=connection.cloud_id, organization_id=connection.organization_id,
                                         status=JiraLink.Status.LINKED)[:2])
    by_id = [link for link in links if event.issue_id and link.issue_id == event.issue_id]
    return (by_id or links or [None])[0]


def is_echo(connection: JiraConnection, event: Event) -> bool:
    """The delivery of a comment we wrote ourselves (e.g. "detected again")."""
    if not event.comment_id:
        return False
    return OutboundWrite.objects.filter(cloud_id=connection.cloud_id, kind="comment", jira_id=event.comment_id).exists()


def on_issue_updated(connection: JiraConnection, event: Event, link: JiraLink | None) -> Handled:
    if link is None:
        return Handled(InboundEvent.Outcome.IGNORED, "not_ours", "ignored: not an issue AllyProof created")
    if is_echo(connection, event):
        return Handled(InboundEvent.Outcome.ECHO, "our_comment", "ignored: our own comment", link.violation_id)
    if scan_fixed.is_transition_echo(connection, event.payload):
        return Handled(InboundEvent.Outcome.ECHO, "our_transition", "ignored: our own move to Done (fixed by a scan)",
                       link.violation_id)
    decision = link_observe(link=link, seen=observe_event(event))
    outcome = InboundEvent.Outcome.APPLIED if decision.changes_violation else InboundEvent.Outcome.IGNORED
    return Handled(outcome, decision.code, f"{decision.message} ({link.issue_key})", link.violation_id)


def on_issue_deleted(connection: JiraConnection, event: Event, link: JiraLink | None) -> Handled:
    if link is None:
        return Handled(InboundEvent.Outcome.IGNORED, "not_ours", "ignored: not an issue AllyProof created")
    link_mark_deleted(link=link)
    return Handled(InboundEvent.Outcome.APPLIED, "issue_deleted",
                   f"{link.issue_key} deleted in Jira; the violation can be pushed again", link.violation_id)


Handler = Callable[[JiraConnection, Event, JiraLink | None], Handled]
HANDLERS: dict[str, Handler] = {"jira:issue_updated": on_issue_updated, "jira:issue_deleted": on_issue_deleted}
# Registered for none of these, but Atlassian may still send them; recorded as ignored, not as unknown.
IGNORED_EVENTS = frozenset({"jira:issue_created", "comment_created", "comment_updated", "comment_deleted",
                            "issue_property_set", "issue_property_deleted"})
