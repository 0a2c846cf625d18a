"""Writes for scanning: ask for a scan, cancel it, fire schedules, sweep runs a crash left behind."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Q

from allyproof.accounts.models import User
from allyproof.core import clock
from allyproof.monitoring.models import Site

from . import schedule
from .models import ScanRun, ScanSettings

log = logging.getLogger(__name__)
STALE_AFTER = dt.timedelta(minutes=3)  # the runner beats at least every second while a scan runs
QUEUED_LOST_AFTER = dt.timedelta(minutes=10)  # queued and never picked up: Huey lost the task
MAX_ATTEMPTS = 3


class ScanAlreadyRunning(Exception):
    def __init__(self, run: ScanRun):
        self.run = run
        super().__init__("A scan of this site is already running.")


# The task layer passes its task in (views, tasks): services never import tasks, so there is no circle.
Enqueue = Callable[[int], None]


def _enqueue(run: ScanRun, enqueue: Enqueue) -> None:
    transaction.on_commit(lambda: enqueue(run.pk))


def scan_request(*, site: Site, source: str, requested_by: User | None = None,
                 scheduled_for: dt.datetime | None = None, enqueue: Enqueue | None = None) -> ScanRun:
    """A queued run (at most one active per site: a database constraint decides races); `enqueue` None: the
    caller runs it itself (the command, tests)."""
    try:
        with transaction.atomic():
            run = ScanRun.objects.create(site=site, source=source, requested_by=requested_by,
                                         scheduled_for=scheduled_for, created_at=clock.now())
    except IntegrityError:
        active = ScanRun.objects.filter(site=site, status__in=ScanRun.ACTIVE).first()
        if active is None:  # the slot was already fired
            raise
        raise ScanAlreadyRunning(active) from None
    if enqueue is not None:
        _enqueue(run, enqueue)
    return run


def scan_cancel(*, run: ScanRun, by: User | None) -> ScanRun:
    """A queued run stops at once; a running one at its next check (within about a second)."""
    if not run.is_active:
        return run
    ScanRun.objects.filter(pk=run.pk).update(cancel_requested=True, cancelled_by=by)
    ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.QUEUED, scan__isnull=True).update(
        status=ScanRun.Status.CANCELLED, finished_at=clock.now(), error="Cancelled before it started.")
    run.refresh_from_db()
    return run


def scan_settings_save(*, site: Site, values: dict, now: dt.datetime | None = None) -> ScanSettings:
    now = now or clock.now()
    current, _ = ScanSettings.objects.get_or_create(site=site)
    schedule_changed = any(values.get(k, getattr(current, k)) != getattr(current, k)
                           for k in ("schedule", "schedule_time", "schedule_weekday"))
    for name, value in values.items():
        setattr(current, name, value)
    if schedule_changed or current.schedule_since is None:
        current.schedule_since = now
    current.updated_at = now
    current.save()
    return current


def schedules_fire(*, now: dt.datetime, enqueue: Enqueue) -> list[ScanRun]:
    """One run per due slot per site; firing twice for the same slot is refused by a constraint."""
    fired = []
    for settings_ in ScanSettings.objects.exclude(schedule=ScanSettings.Schedule.OFF).select_related("site"):
        if not settings_.site.active:
            continue
        slot = schedule.due_slot(schedule=settings_.schedule, at=settings_.schedule_time,
                                 weekday=settings_.schedule_weekday, since=settings_.schedule_since, now=now)
        if slot is None or ScanRun.objects.filter(site=settings_.site, scheduled_for=slot).exists():
            continue
        try:
            fired.append(scan_request(site=settings_.site, source="scheduled", scheduled_for=slot, enqueue=enqueue))
        except (ScanAlreadyRunning, IntegrityError):
            log.info("scan.schedule.skipped site=%s slot=%s (a scan is running or the slot fired)",
                     settings_.site_id, slot.isoformat())
    return fired


def scan_runs_sweep(*, now: dt.datetime, enqueue: Enqueue) -> list[int]:
    """Runs a crash left behind: resumed (their pages done are kept) or, after MAX_ATTEMPTS, failed."""
    from .runner import _finish

    touched = []
    stale = ScanRun.objects.filter(status=ScanRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    lost = ScanRun.objects.filter(Q(heartbeat_at__lt=now - QUEUED_LOST_AFTER) | Q(heartbeat_at=None, created_at__lt=now - QUEUED_LOST_AFTER), status=ScanRun.Status.QUEUED)
    for run in list(stale) + list(lost):
        if run.attempts >= MAX_ATTEMPTS:
            _finish(run, ScanRun.Status.FAILED, f"The scan stopped responding {run.attempts} times and was given up.")
        else:
            ScanRun.objects.filter(pk=run.pk, status=run.status).update(status=ScanRun.Status.QUEUED, heartbeat_at=now)
            _enqueue(run, enqueue)
        touched.append(run.pk)
    return touched
