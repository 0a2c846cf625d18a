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


@db_task(retries=3, retry_delay=60)
def webhook_verify_task(connection_id: int) -> None:
    """After a reconnect: compare what Jira has registered with the rules, and re-register if needed."""
    connection = JiraConnection.objects.filter(pk=connection_id, status=JiraConnection.Status.ACTIVE).first()
    if connection is not None and (connection.webhook_ids or webhooks.desired_jql(connection)):
        webhooks.webhook_refresh(connection=connection, client=client_for(connection))


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

    push_job_run(job_id=job_id, client_for=client_for, violation_url=absolute_violation_url)


@db_periodic_task(crontab(minute="*"))
def sweep_push_jobs() -> list[int]:
    from .jobs import push_jobs_sweep

    return push_jobs_sweep()


@db_task(retries=2, retry_delay=30)
def scan_completed_task(site_id: int, new_violation_ids: list[int], reopened_violation_ids: list[int]) -> None:
    """Kept so tasks queued before scan follow-ups existed still run; new scans use scan_followup_task."""
    from . import autopush

    autopush.scan_completed(site_id=site_id, new_violation_ids=new_violation_ids,
                            reopened_violation_ids=reopened_violation_ids, client_for=client_for)


@db_task()
def scan_followup_task(followup_id: int) -> None:
    from .scan_followup import scan_followup_run

    scan_followup_run(followup_id=followup_id, client_for=client_for)


@db_periodic_task(crontab(minute="*"))
def sweep_scan_followups() -> list[int]:
    """Every minute: scan follow-ups left pending or whose runner went silent are queued again."""
    from .scan_followup import scan_followups_resume

    return scan_followups_resume()


@db_periodic_task(crontab(minute="*/5"))
def webhook_heal_all() -> int:
    """Every five minutes: retry failed or mismatched registrations whose backoff has passed."""
    tried = 0
    for connection in webhooks.connections_to_heal(clock.now()):
        try:
            tried += webhooks.webhook_heal(connection=connection, client=client_for(connection))
        except JiraError:  # recorded on the connection with its next retry time
            tried += 1
    return tried


@db_periodic_task(crontab(minute="41", hour="3"))
def sync_log_prune_daily() -> int:
    from .sync_log import sync_log_prune

    return sync_log_prune(now=clock.now())


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
