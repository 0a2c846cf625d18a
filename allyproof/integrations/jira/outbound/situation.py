"""The gates' input read from the models, and which links count as live: shared by the push engine
(the server's check at push time) and the selectors (the button, the counts), so neither imports the other.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from allyproof.monitoring.models import Violation

from allyproof.integrations.jira.outbound.gates import Situation
from allyproof.integrations.jira.models import JiraConnection, JiraLink, SiteSyncRule

LIVE = (JiraLink.Status.CREATING, JiraLink.Status.LINKED)  # a violation has at most one live link per site


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


def claim_fresh(link: JiraLink, *, now: dt.datetime) -> bool:
    """A worker's claim on a link younger than JIRA_JOB_STALE_SECONDS (longer than any one attempt): its
    worker may still be creating the issue, so nobody else may. Older, the claim can be taken over."""
    if not link.claim or link.claimed_at is None:
        return False
    return (now - link.claimed_at).total_seconds() < settings.CONFIG.jira_job_stale_seconds
