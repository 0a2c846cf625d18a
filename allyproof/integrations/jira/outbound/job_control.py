"""What people, rules and the sweeper do to push jobs from outside their runner (jobs.py): retry the
failed items, cancel, and hand a job whose runner died back to the queue.

Every function that queues work takes the enqueue callable from the layer above (tasks.run_push_job
for the views, tasks.QUEUE.push_job for the periodic sweep), so nothing here imports tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from allyproof.core import clock
from allyproof.integrations.jira.models import JiraConnection, PushJob, PushJobItem, SiteSyncRule

log = logging.getLogger(__name__)

Enqueue = Callable[[int], None]  # hands a job's id to the worker (tasks.run_push_job); None: nobody runs it yet


def heartbeat_stale() -> dt.timedelta:
    """How long a runner may stay silent before its job is taken over (JIRA_JOB_STALE_SECONDS)."""
    return dt.timedelta(seconds=settings.CONFIG.jira_job_stale_seconds)


def stop_job(job: PushJob, reason: str) -> None:
    """Its pending items fail with the reason; a runner sees CANCELLED before its next item."""
    job.items.filter(status=PushJobItem.Status.PENDING).update(
        status=PushJobItem.Status.FAILED, reason=reason[:300], updated_at=clock.now())
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.CANCELLED, cancel_reason=reason[:200],
                                             finished_at=clock.now())


def push_job_retry_failed(*, job: PushJob, enqueue: Enqueue) -> int:
    with transaction.atomic():
        count = job.items.filter(status=PushJobItem.Status.FAILED).update(
            status=PushJobItem.Status.PENDING, attempts=0, not_before=None, reason="")
        if count:
            PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.QUEUED, finished_at=None, cancel_reason="",
                                                     wake_at=None)
            SiteSyncRule.objects.filter(site_id=job.site_id).update(problems=[])  # the admin says it is fixed
            transaction.on_commit(lambda: enqueue(job.pk))
    return count


def auto_jobs_cancel(*, site_id: int) -> int:
    """Auto-push switched off: queued and running auto jobs stop now (a running one before its next item)."""
    jobs = list(PushJob.objects.filter(site_id=site_id, kind=PushJob.Kind.AUTO,
                                       status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING]))
    for job in jobs:
        stop_job(job, "Stopped: auto-push was switched off.")
    return len(jobs)


def push_jobs_cancel(connection: JiraConnection) -> None:
    """Disconnect: queued and running jobs stop at their next item (called inside its transaction)."""
    jobs = PushJob.objects.filter(organization_id=connection.organization_id,
                                  status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING])
    for job in jobs:
        stop_job(job, "Stopped: Jira was disconnected.")


def push_jobs_sweep(*, enqueue: Enqueue, now: dt.datetime | None = None) -> list[int]:
    """Jobs whose runner died (stale heartbeat) or whose enqueue was lost: enqueue them again."""
    now = now or clock.now()
    stale = PushJob.objects.filter(
        Q(status=PushJob.Status.RUNNING, heartbeat_at__lt=now - heartbeat_stale())
        | Q(status=PushJob.Status.QUEUED, created_at__lt=now - heartbeat_stale(), wake_at__isnull=True)
        | Q(status=PushJob.Status.QUEUED, wake_at__lt=now - heartbeat_stale())  # a parked job whose wake was lost
    ).values_list("pk", flat=True)
    ids = list(stale)
    for job_id in ids:
        log.warning("jira.job.resumed job=%s", job_id)
        enqueue(job_id)
    return ids
