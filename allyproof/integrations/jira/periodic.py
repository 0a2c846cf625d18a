"""The Jira integration's periodic jobs, in one table.

Huey's schedule (`tasks.py` turns every row into a periodic task) and the operator's
`manage.py allyproof_jira_run <job>` both read this table, so running a job by hand runs exactly what
the schedule runs. Adding a job is one row: a name, a cron line, a function taking
`organization=None` and returning how many things it did, and the words for that count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from huey import crontab

from allyproof.accounts.models import Organization
from allyproof.core import clock

from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection
from allyproof.integrations.jira.queue import Queue

log = logging.getLogger(__name__)


def webhook_refresh_all(*, organization: Organization | None = None) -> int:
    """Refresh registrations with under 15 days left (Atlassian expires them at 30)."""
    refreshed = 0
    due = webhooks.connections_due_for_refresh(clock.now())
    if organization is not None:
        due = due.filter(organization=organization)
    for connection in due:
        try:
            webhooks.webhook_refresh(connection=connection, client=client_for(connection))
            refreshed += 1
        except JiraError as problem:  # one tenant's trouble must not stop the others
            log.warning("jira.webhook.refresh_failed connection=%s error=%s", connection.pk, problem)
    return refreshed


def _each_active(organization: Organization | None, event: str, run: Callable[[JiraConnection], int]) -> int:
    """`run` on every active connection (of one organization, if given); a Jira failure on one is logged
    and the others go on. Returns the sum of what `run` returned."""
    done = 0
    active = JiraConnection.objects.active()
    if organization is not None:
        active = active.filter(organization=organization)
    for connection in active:
        try:
            done += run(connection)
        except JiraError as problem:
            log.warning(event + " connection=%s error=%s", connection.pk, problem)
    return done


def reconcile_all(*, organization: Organization | None = None) -> int:
    """Apply what missed webhooks would have (issues Done or deleted in Jira)."""
    from allyproof.integrations.jira.inbound.reconcile import reconcile

    def run(connection: JiraConnection) -> int:
        caught = reconcile(connection=connection, client=client_for(connection))
        return caught.resolved + caught.deleted

    return _each_active(organization, "jira.reconcile.failed", run)


def reconcile_history_all(*, organization: Organization | None = None) -> int:
    """Notice deleted issues behind links of violations a person or a scan resolved."""
    from allyproof.integrations.jira.inbound.reconcile import reconcile_history

    return _each_active(organization, "jira.reconcile.history_failed",
                        lambda c: reconcile_history(connection=c, client=client_for(c)).deleted)


def sweep_push_jobs(*, organization: Organization | None = None, queue: Queue) -> int:
    """Re-enqueue push jobs whose worker died (stale heartbeat) or whose enqueue was lost."""
    from allyproof.integrations.jira.outbound.job_control import push_jobs_sweep

    return len(push_jobs_sweep(enqueue=queue.push_job))


def wipe_abandoned_handshakes(*, organization: Organization | None = None) -> int:
    """Delete "choose a site" steps of Connect Jira left for 10 minutes, with their tokens."""
    from allyproof.integrations.jira.connection.handshakes import abandoned_handshakes_wipe

    return abandoned_handshakes_wipe(now=clock.now())


def converge_links(*, organization: Organization | None = None) -> int:
    """Look again, once search caught up, at links created after an unknown outcome: repair duplicates."""
    from allyproof.integrations.jira.outbound.converge import converge_due

    return converge_due(client_for=client_for)


def sweep_scan_followups(*, organization: Organization | None = None, queue: Queue) -> int:
    """Queue again the scan follow-ups left pending or whose runner went silent."""
    from allyproof.integrations.jira.outbound.scan_followup import scan_followups_resume

    return len(scan_followups_resume(enqueue=queue.scan_followup))


def inbound_apply_resume(*, organization: Organization | None = None, queue: Queue) -> int:
    """Webhook deliveries received but not applied within a while (their run was lost) get one."""
    from allyproof.integrations.jira.inbound.apply import resume

    return resume(enqueue=queue.inbound_apply)


def webhook_heal_all(*, organization: Organization | None = None) -> int:
    """Retry failed or mismatched webhook registrations whose backoff has passed."""
    tried = 0
    due = webhooks.connections_to_heal(clock.now())
    if organization is not None:
        due = due.filter(organization=organization)
    for connection in due:
        try:
            tried += webhooks.webhook_heal(connection=connection, client=client_for(connection))
        except JiraError:  # recorded on the connection with its next retry time
            tried += 1
    return tried


def sync_log_prune(*, organization: Organization | None = None) -> int:
    """Delete sync-log lines older than JIRA_SYNC_LOG_DAYS."""
    from allyproof.integrations.jira.sync_log import sync_log_prune as prune

    return prune(now=clock.now())


@dataclass(frozen=True)
class PeriodicJob:
    name: str  # what an operator types: allyproof_jira_run <name>
    cron: str  # minute hour day month day-of-week, as Huey's crontab reads them
    run: Callable[..., int]
    done: str  # the count's words, "{n} …"
    scoped: bool = True  # False: the job is about the queue, not an organization (no --org)
    queues: bool = False  # True: `run` takes the task layer's Queue (services never import tasks)

    @property
    def about(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]

    def start(self, *, organization: Organization | None, queue: Queue) -> int:
        return self.run(organization=organization, queue=queue) if self.queues else self.run(organization=organization)

    def schedule(self) -> Callable:
        minute, hour, day, month, day_of_week = self.cron.split()
        return crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week)


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("reconcile", "*/30 * * * *", reconcile_all, "{n} violation(s) updated from Jira"),
    PeriodicJob("webhook-refresh", "17 */6 * * *", webhook_refresh_all, "{n} webhook registration(s) refreshed"),
    PeriodicJob("sweep", "* * * * *", sweep_push_jobs, "{n} push job(s) re-enqueued", scoped=False,
                queues=True),
    PeriodicJob("wipe-handshakes", "* * * * *", wipe_abandoned_handshakes, "{n} abandoned handshake(s) wiped",
                scoped=False),
    PeriodicJob("scan-followups", "* * * * *", sweep_scan_followups, "{n} scan follow-up(s) re-queued",
                scoped=False, queues=True),
    PeriodicJob("webhook-heal", "*/5 * * * *", webhook_heal_all, "{n} webhook registration(s) retried"),
    PeriodicJob("sync-log-prune", "41 3 * * *", sync_log_prune, "{n} sync-log line(s) deleted", scoped=False),
    PeriodicJob("reconcile-history", "53 4 * * *", reconcile_history_all, "{n} deleted issue(s) noticed"),
    PeriodicJob("converge", "* * * * *", converge_links, "{n} duplicate(s) repaired", scoped=False),
    PeriodicJob("inbound-apply", "* * * * *", inbound_apply_resume, "{n} waiting webhook delivery(ies) re-queued",
                scoped=False, queues=True),
)


def job_named(name: str) -> PeriodicJob | None:
    return next((job for job in JOBS if job.name == name), None)
