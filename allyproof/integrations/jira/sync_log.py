"""The sync log: what was exchanged with Jira, in words a person can read (STYLE: Saleor's deliveries).

Written by the receiver (every delivery, refused ones included, never a token), by every write we make,
by reconciliation and by webhook registration. Kept `JIRA_SYNC_LOG_DAYS` days (90 by default).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from allyproof.core import clock

from allyproof.integrations.jira.models import JiraConnection, JiraLink, JiraSyncLog

OUTCOMES = ("applied", "ignored", "refused", "duplicate", "echo", "unmatched", "failed", "written")


def sync_log_line(*, direction: str, outcome: str, code: str, message: str = "",
                  connection: JiraConnection | None = None, violation_id: int | None = None, event: str = "",
                  issue_key: str = "", identifier: str = "") -> JiraSyncLog:
    """An unsaved line, for callers that write many at once (the inbound worker's batches)."""
    return JiraSyncLog(
        organization_id=connection.organization_id if connection else None, connection=connection,
        violation_id=violation_id, direction=direction, outcome=outcome[:12], code=code[:40], message=message[:300],
        event=event[:60], issue_key=issue_key[:40], identifier=identifier[:200], created_at=clock.now(),
    )


def sync_log_write(**fields) -> JiraSyncLog:
    line = sync_log_line(**fields)
    line.save(force_insert=True)
    return line


def sync_log_prune(*, now: dt.datetime) -> int:
    cutoff = now - dt.timedelta(days=settings.CONFIG.jira_sync_log_days)
    deleted, _ = JiraSyncLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _line(row: JiraSyncLog) -> dict:
    return {"at": row.created_at, "direction": row.get_direction_display(), "outcome": row.outcome, "code": row.code,
            "message": row.message, "issue_key": row.issue_key, "event": row.event}


def sync_log_for_connection(*, connection: JiraConnection, outcome: str = "", direction: str = "",
                            limit: int = 100) -> list[dict]:
    rows = JiraSyncLog.objects.filter(connection=connection)
    if outcome in OUTCOMES:
        rows = rows.filter(outcome=outcome)
    if direction in JiraSyncLog.Direction.values:
        rows = rows.filter(direction=direction)
    return [_line(r) for r in rows.order_by("-created_at", "-pk")[:limit]]


def sync_log_for_violation(*, violation_id: int, organization_id: int, limit: int = 200) -> list[dict]:
    """Every exchange about one violation, newest first: the log's lines plus the issue creation(s),
    which the push engine records on the link itself."""
    rows = [_line(r) for r in JiraSyncLog.objects.filter(violation_id=violation_id, organization_id=organization_id)
            .order_by("-created_at", "-pk")[:limit]]
    for link in JiraLink.objects.filter(violation_id=violation_id, organization_id=organization_id).exclude(
            linked_at=None):
        rows.append({"at": link.linked_at, "direction": JiraSyncLog.Direction.OUTBOUND.label, "outcome": "written",
                     "code": "issue_created", "message": f"created {link.issue_key} in Jira",
                     "issue_key": link.issue_key, "event": ""})
    return sorted(rows, key=lambda r: r["at"], reverse=True)
