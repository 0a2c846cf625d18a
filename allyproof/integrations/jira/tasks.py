"""Background work for the Jira integration. Tasks take ids and call one service."""

from __future__ import annotations

from huey.contrib.djhuey import db_periodic_task, db_task

from allyproof.integrations.jira import periodic
from allyproof.integrations.jira.outbound import autopush
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.outbound import scan_fixed
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.outbound.jobs import push_job_run
from allyproof.integrations.jira.models import JiraConnection
from allyproof.integrations.jira.outbound.push import absolute_violation_url
from allyproof.integrations.jira.queue import Queue
from allyproof.integrations.jira.outbound.scan_followup import scan_followup_run


@db_task(retries=3, retry_delay=60)
def webhook_sync_task(connection_id: int) -> None:
    connection = JiraConnection.objects.active().filter(pk=connection_id).first()
    if connection is not None:
        webhooks.webhook_sync(connection=connection, client=client_for(connection))


@db_task(retries=3, retry_delay=60)
def webhook_verify_task(connection_id: int) -> None:
    """After a reconnect: compare what Jira has registered with the rules, and re-register if needed."""
    connection = JiraConnection.objects.active().filter(pk=connection_id).first()
    if connection is not None and (connection.webhook_ids or webhooks.desired_jql(connection)):
        webhooks.webhook_refresh(connection=connection, client=client_for(connection))


@db_task()
def run_push_job(job_id: int) -> None:
    push_job_run(job_id=job_id, client_for=client_for, violation_url=absolute_violation_url,
                 park=lambda job, seconds: run_push_job.schedule((job,), delay=seconds))


@db_task(retries=2, retry_delay=30)
def scan_completed_task(site_id: int, new_violation_ids: list[int], reopened_violation_ids: list[int]) -> None:
    """Kept so tasks queued before scan follow-ups existed still run; new scans use scan_followup_task."""
    autopush.scan_completed(site_id=site_id, new_violation_ids=new_violation_ids,
                            reopened_violation_ids=reopened_violation_ids, client_for=client_for, enqueue=run_push_job)


@db_task()
def scan_followup_task(followup_id: int) -> None:
    scan_followup_run(followup_id=followup_id, client_for=client_for, enqueue=run_push_job)


@db_task(retries=2, retry_delay=30)
def scan_fixed_task(scan_id: int, violation_ids: list[int]) -> None:
    scan_fixed.scan_fixed(scan_id=scan_id, violation_ids=violation_ids, client_for=client_for)


@db_task(retries=2, retry_delay=5)
def inbound_apply_task() -> None:
    inbound_apply.run()


QUEUE = Queue(push_job=run_push_job, scan_followup=scan_followup_task, inbound_apply=inbound_apply_task)


def _scheduled(job: periodic.PeriodicJob):
    """One periodic task per row of periodic.JOBS: the schedule runs what `allyproof_jira_run` runs."""
    def run() -> int:
        return job.start(organization=None, queue=QUEUE)

    run.__name__ = run.__qualname__ = "jira_" + job.name.replace("-", "_")
    return db_periodic_task(job.schedule(), name=run.__name__)(run)


PERIODIC = {job.name: _scheduled(job) for job in periodic.JOBS}
webhook_refresh_all = PERIODIC["webhook-refresh"]
sweep_push_jobs = PERIODIC["sweep"]
reconcile_all = PERIODIC["reconcile"]
reconcile_history_daily = PERIODIC["reconcile-history"]
wipe_abandoned_handshakes = PERIODIC["wipe-handshakes"]
converge_links = PERIODIC["converge"]
sweep_scan_followups = PERIODIC["scan-followups"]
webhook_heal_all = PERIODIC["webhook-heal"]
sync_log_prune_daily = PERIODIC["sync-log-prune"]
inbound_apply_resume = PERIODIC["inbound-apply"]
