"""Monitoring's events, received (declared in allyproof.core.plugs): record what is durable, then queue.

An adapter like a view or a task: it runs after the ingestion commits and hands the work to the queue,
so the scan's request never waits on Jira.
"""

from __future__ import annotations

from allyproof.monitoring.events import ScanCompleted, ViolationsFixed

from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.outbound.scan_followup import scan_followup_record


def on_scan_completed(event: ScanCompleted) -> None:
    row = scan_followup_record(event=event)
    if row is not None:  # None: the same scan announced twice, its row is queued already
        tasks.scan_followup_task(row.pk)


def on_violations_fixed(event: ViolationsFixed) -> None:
    tasks.scan_fixed_task(event.scan_id, list(event.violation_ids))
