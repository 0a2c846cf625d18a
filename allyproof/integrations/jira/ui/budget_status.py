"""Selectors for what pages say about Jira's rate limits: "Paused by Jira until HH:MM" and a running
job's expected finish. Both are read from the shared gate and budget, so every page and every process
tells the same story (a pause from a 429, or the points budget spent until the top of the hour)."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings

from allyproof.integrations.jira.connection import budget
from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.models import JiraConnection, PushJob, PushJobItem


def _epoch(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def bulk_paused_until(*, cloud_id: str, gate=None, now: float | None = None,
                      lane: str = budget.BULK) -> dt.datetime | None:
    """Until when work for this Jira site waits on Jira: a 429's pause (of the site or of the whole app)
    or the points budget spent (bulk work: down to the headroom; a single push: to zero); None when
    nothing holds it."""
    gate = gate or pacing.default_gate()
    now = time.time() if now is None else now
    until = gate.paused_until(cloud_id) if hasattr(gate, "paused_until") else 0.0
    shared = getattr(gate, "budget", None)
    if shared is not None:
        blocked = shared.decide(cloud_id, now=now, lane_=lane).blocked_until
        until = max(until, blocked or 0.0)
    return _epoch(until) if until > now else None


def _spacing(cloud_id: str, gate, now: float) -> float:
    interval = settings.CONFIG.jira_push_interval_ms / 1000
    shared = getattr(gate, "budget", None)
    if shared is None:
        return interval
    return max(interval, shared.decide(cloud_id, now=now, lane_=budget.BULK).spacing)


def expected_finish(*, job: PushJob, gate=None, now: float | None = None) -> dt.datetime | None:
    """When the job's last item should be done: its pending items and those queued before it for the
    same Jira site, one per slot of the site's current share, after any pause."""
    connection = JiraConnection.objects.active().filter(organization_id=job.organization_id).first()
    if connection is None:
        return None
    gate = gate or pacing.default_gate()
    now = time.time() if now is None else now
    ahead = PushJobItem.objects.filter(
        status=PushJobItem.Status.PENDING, job__organization_id=job.organization_id,
        job__status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING], job__created_at__lte=job.created_at,
    ).exclude(job__kind=PushJob.Kind.SINGLE).count()
    if not ahead:
        return None
    paused = bulk_paused_until(cloud_id=connection.cloud_id, gate=gate, now=now)
    start = paused.timestamp() if paused else now
    return _epoch(start + ahead * _spacing(connection.cloud_id, gate, now))
