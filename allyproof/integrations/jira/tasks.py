"""Background work for the Jira integration. Tasks take ids and call one service."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from allyproof.core import clock

from . import webhooks
from .errors import JiraError
from .gateway import client_for
from .models import JiraConnection

log = logging.getLogger(__name__)


@db_task(retries=3, retry_delay=60)
def webhook_sync_task(connection_id: int) -> None:
    connection = JiraConnection.objects.filter(pk=connection_id, status=JiraConnection.Status.ACTIVE).first()
    if connection is not None:
        webhooks.webhook_sync(connection=connection, client=client_for(connection))


@db_periodic_task(crontab(minute="17", hour="*/6"))
def webhook_refresh_all() -> int:
    """Every six hours: refresh registrations with under 15 days left (Atlassian expires them at 30)."""
    refreshed = 0
    for connection in webhooks.connections_due_for_refresh(clock.now()):
        try:
            webhooks.webhook_refresh(connection=connection, client=client_for(connection))
            refreshed += 1
        except JiraError as problem:  # one tenant's trouble must not stop the others
            log.warning("jira.webhook.refresh_failed connection=%s error=%s", connection.pk, problem)
    return refreshed


@db_task()
def run_push_job(job_id: int) -> None:
    from .jobs import push_job_run
    from .push import absolute_violation_url

    push_job_run(job_id=job_id, client_for=client_for, violation_url=absolute_violation_url,
                 park=lambda job, seconds: run_push_job.schedule((job,), delay=seconds))


@db_periodic_task(crontab(minute="*"))
def sweep_push_jobs() -> list[int]:
    from .jobs import push_jobs_sweep

    return push_jobs_sweep()


@db_task(retries=2, retry_delay=30)
def scan_completed_task(site_id: int, new_violation_ids: list[int], reopened_violation_ids: list[int]) -> None:
    from . import autopush

    autopush.scan_completed(site_id=site_id, new_violation_ids=new_violation_ids,
                            reopened_violation_ids=reopened_violation_ids, client_for=client_for)


@db_periodic_task(crontab(minute="*/30"))
def reconcile_all() -> int:
    """Every half hour: apply what missed webhooks would have (Done issues, deleted issues)."""
    from .reconcile import reconcile

    applied = 0
    for connection in JiraConnection.objects.filter(status=JiraConnection.Status.ACTIVE):
        try:
            caught = reconcile(connection=connection, client=client_for(connection))
            applied += caught.resolved + caught.deleted
        except JiraError as problem:
            log.warning("jira.reconcile.failed connection=%s error=%s", connection.pk, problem)
    return applied


@db_periodic_task(crontab(minute="*"))
def wipe_abandoned_handshakes() -> int:
    """Every minute: a "choose a site" step left for 10 minutes loses its tokens (handshakes.py)."""
    from .handshakes import abandoned_handshakes_wipe

    return abandoned_handshakes_wipe(now=clock.now())


@db_task(retries=2, retry_delay=30)
def scan_fixed_task(scan_id: int, violation_ids: list[int]) -> None:
    from . import scan_fixed

    scan_fixed.scan_fixed(scan_id=scan_id, violation_ids=violation_ids, client_for=client_for)


@db_periodic_task(crontab(minute="*"))
def converge_links() -> int:
    """Every minute: links created after an unknown outcome, once search caught up, looked at for duplicates."""
    from .converge import converge_due

    return converge_due(client_for=client_for)
