"""Background work for scans. Tasks take ids and call one service; the run row holds the state."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from allyproof.core import clock


@db_task()
def run_scan_task(run_id: int) -> None:
    from .runner import scan_run_execute

    scan_run_execute(run_id=run_id)


@db_periodic_task(crontab(minute="*"))
def scan_tick() -> dict[str, list[int]]:
    """Every minute: fire due schedules, resume or fail runs a crash left behind."""
    from . import services

    now = clock.now()
    fired = services.schedules_fire(now=now, enqueue=run_scan_task)
    return {"fired": [run.pk for run in fired], "swept": services.scan_runs_sweep(now=now, enqueue=run_scan_task)}
