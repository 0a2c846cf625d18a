"""Push jobs: bulk, picked and auto pushes as a job row with one item per violation (DESIGN §8).

Huey deletes a task before running it, so a crash would lose it: the job's state lives in these
rows, the runner claims a job with a heartbeat, and a periodic sweeper re-enqueues jobs whose
heartbeat went stale. Re-running a job is safe: finished items are skipped and every push goes
through the exactly-once reservation.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Min, Q, Value
from django.db.models.functions import Coalesce

from allyproof.core import clock, metrics
from allyproof.monitoring.models import Site, Violation

from allyproof.integrations.jira.connection import budget
from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.outbound import job_control, refusals
from allyproof.integrations.jira.outbound.job_control import stop_job
from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.connection.errors import (
    JiraAuthError,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
    JiraValidationError,
    NeedsReconnect,
    NotConnected,
)
from allyproof.integrations.jira.models import JiraConnection, PushJob, PushJobItem, SiteSyncRule
from allyproof.integrations.jira.outbound.push import PushChecking, PushInProgress, PushRefused, violation_push

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
FINAL = (JiraValidationError, JiraAuthError, JiraNotFound)
PARK_AFTER = 2.0  # seconds: a longer wait for every remaining item hands the job back to the queue
# Seconds a job holds a worker thread while other jobs wait for one: then it goes to the back of the
# queue (round robin over jobs), so a 500-item backlog cannot keep a thread from nine small ones.
# Three slots at the default 150 ms pacing: with 4 threads for 10 backlogged sites, a 1 s turn let some
# sites push 10 while others pushed 2 (Jain 0.875, bench/budget_sim.py fairness); 0.45 s gives 0.99.
TURN = 0.45
CHECKING = "Checking Jira…"
# An auto job's item found before auto-push was last switched on (forward-only: that backlog is pushed by hand).
AUTO_PUSH_BEFORE = "Found before auto-push was switched on for this site: push it by hand if it should go to Jira."
BUSY_RETRY = 5.0  # seconds before an item another worker is pushing is looked at again
NOT_SENT = "Not sent: Jira refused this site's rule (see above)."


def backoff(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Atlassian's advice without Retry-After: 2 s, doubling, ×0.7–1.3 jitter, capped."""
    return min(60.0, 2.0 * 2 ** (attempt - 1)) * (0.7 + 0.6 * rand())


def push_job_create(*, site: Site, violations: Iterable[Violation], kind: str, project_key: str,
                    enqueue: job_control.Enqueue | None, by=None) -> PushJob:
    with transaction.atomic():
        job = PushJob.objects.create(organization_id=site.organization_id, site=site, kind=kind,
                                     project_key=project_key, created_by=by, created_at=clock.now())
        PushJobItem.objects.bulk_create(
            [PushJobItem(job=job, violation=v, position=i) for i, v in enumerate(violations)]
        )
        if enqueue is not None:
            transaction.on_commit(lambda: enqueue(job.pk))
    return job


def _claim(job_id: int) -> bool:
    """Only one runner per job: a queued job, or a running one whose runner stopped beating."""
    now = clock.now()
    return bool(
        PushJob.objects.filter(pk=job_id)
        .filter(Q(status=PushJob.Status.QUEUED)
                | Q(status=PushJob.Status.RUNNING, heartbeat_at__lt=now - job_control.heartbeat_stale()))
        .update(status=PushJob.Status.RUNNING, heartbeat_at=now, started_at=Coalesce("started_at", Value(now)))
    )


def _finish_item(item: PushJobItem, status: str, *, key: str = "", reason: str = "") -> None:
    item.status, item.issue_key, item.reason, item.updated_at = status, key, reason[:300], clock.now()
    # attempts too: an item that gives up says "after 6 attempts", and its row must say 6 (it said 5)
    item.save(update_fields=["status", "issue_key", "reason", "updated_at", "attempts"])
    metrics.push_item(status)


def _still_pending(item: PushJobItem, **fields) -> None:
    """Writes a waiting item's fields only while it is pending: a stop (disconnect, auto-push off) that
    landed while its push was out failed it with its own reason, which the page must keep saying."""
    PushJobItem.objects.filter(pk=item.pk, status=PushJobItem.Status.PENDING).update(**fields)


def _wait_for(item: PushJobItem, until: dt.datetime, reason: str = CHECKING) -> None:
    """The unknown-outcome protocol, or another worker's push of this violation, is not done yet: not an
    attempt, not a failure. (Another worker's claim ends when its push does, or goes stale after
    JIRA_JOB_STALE_SECONDS and is taken over, so this wait is bounded; counted as attempts, a slow push
    elsewhere failed the item "after 6 attempts" while its issue was being made.)"""
    _still_pending(item, not_before=until, reason=reason, updated_at=clock.now())


def _defer(item: PushJobItem, seconds: float, reason: str) -> None:
    attempts = item.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        item.attempts = attempts
        _finish_item(item, PushJobItem.Status.FAILED, reason=f"{reason} (gave up after {attempts} attempts)")
        return
    _still_pending(item, attempts=attempts, not_before=clock.now() + dt.timedelta(seconds=seconds),
                   reason=reason[:300], updated_at=clock.now())


def push_job_run(
    *, job_id: int, client_for: Callable[[JiraConnection], object], violation_url: Callable[[Violation], str],
    gate: pacing.Gate | None = None, sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random, park: Callable[[int, float], None] | None = None,
) -> PushJob | None:
    """Runs the job's items until none is left. `park(job_id, seconds)`: when every remaining item
    waits longer than PARK_AFTER, hand the job back to the queue instead of holding the thread."""
    if not _claim(job_id):
        return None
    job = PushJob.objects.select_related("site").get(pk=job_id)
    gate = gate or pacing.default_gate()
    # A person's single push spends the budget's headroom; every other job spends its fair share.
    with budget.lane(budget.INTERACTIVE if job.kind == PushJob.Kind.SINGLE else budget.BULK):
        return _run(job, client_for=client_for, violation_url=violation_url, gate=gate, sleep=sleep, rand=rand,
                    park=park)


def _others_waiting(job: PushJob) -> bool:
    """Another job is queued and due: it waits for a worker thread this job holds."""
    now = clock.now()
    return PushJob.objects.filter(status=PushJob.Status.QUEUED).exclude(pk=job.pk).filter(
        Q(wake_at__isnull=True) | Q(wake_at__lte=now)).exists()


def _next_due(job: PushJob, now: dt.datetime) -> PushJobItem | None:
    """The first pending item in the job's order that is due now, looked for among all pending items (not
    only the first 50, which could all be waiting on the unknown-outcome protocol), loaded alone."""
    return (job.items.filter(status=PushJobItem.Status.PENDING).filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .select_related("violation__site").first())


def _run(job: PushJob, *, client_for, violation_url, gate, sleep, rand, park) -> PushJob:
    turn_ends = clock.now() + dt.timedelta(seconds=TURN)
    clients = _Clients(client_for)
    while True:
        if not _beat(job):
            return job
        connection = connection_current(organization=job.site.organization)
        stop = _stop_reason(job, connection)
        if stop:
            stop_job(job, stop)
            job.refresh_from_db()
            return job
        now = clock.now()
        item = _next_due(job, now)
        if item is None:
            finished = _when_none_due(job, now, sleep=sleep, park=park)
            if finished is not None:
                return finished
            continue
        if job.kind == PushJob.Kind.AUTO and not _auto_push_allows(item):
            _finish_item(item, PushJobItem.Status.SKIPPED, reason=AUTO_PUSH_BEFORE)
            continue
        if park is not None and clock.now() >= turn_ends:
            if _others_waiting(job):
                return _park(job, 0.0, park)
            turn_ends = clock.now() + dt.timedelta(seconds=TURN)
        slot_in = gate.peek(connection.cloud_id) if hasattr(gate, "peek") else 0.0
        if park is not None and slot_in > PARK_AFTER:  # the budget's share, a pause: free the thread meanwhile
            return _park(job, slot_in, park)
        _run_item(item, connection=connection, client=clients.get(connection), job=job, gate=gate, rand=rand,
                  violation_url=violation_url)


def _beat(job: PushJob) -> bool:
    """The heartbeat and the cancel check in one UPDATE before every item (False: cancelled). The row is
    touched once per item, not written after it and read again before the next one."""
    if PushJob.objects.filter(pk=job.pk).exclude(status=PushJob.Status.CANCELLED).update(heartbeat_at=clock.now()):
        return True
    job.refresh_from_db(fields=["status"])
    return job.status != PushJob.Status.CANCELLED


class _Clients:
    """One client per connection row as read before this item. The connection is still re-read before
    every item (`_stop_reason`); only building the client is saved (its token cache read and decrypted the
    token and read its expiry: two queries and a decryption an item). A refresh or a reconnect changes the
    row's token stamps, and a new client is built; a 401 refreshes through the vault as before."""

    def __init__(self, client_for: Callable[[JiraConnection], object]):
        self.client_for, self.key, self.client = client_for, None, None

    def get(self, connection: JiraConnection):
        key = (connection.pk, connection.cloud_id, connection.status, connection.tokens_refreshed_at,
               connection.access_expires_at)
        if key != self.key:
            self.key, self.client = key, self.client_for(connection)
        return self.client


def _when_none_due(job: PushJob, now: dt.datetime, *, sleep, park) -> PushJob | None:
    """No item is due: the job is complete, or is parked, or sleeps until its next one (None: go on)."""
    waiting = job.items.filter(status=PushJobItem.Status.PENDING).aggregate(at=Min("not_before"))["at"]
    if waiting is None:  # nothing pending (a pending item without not_before would have been due)
        PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.COMPLETED, finished_at=clock.now(), wake_at=None)
        log.info("jira.job.completed job=%s", job.pk)
        job.refresh_from_db()
        return job
    wait = max(0.05, (waiting - now).total_seconds())
    if park is not None and wait > PARK_AFTER:
        return _park(job, wait, park)
    sleep(min(5.0, wait))
    return None


def _stop_reason(job: PushJob, connection: JiraConnection | None) -> str:
    """Re-read before every item: the connection, and for auto jobs whether auto-push is still on."""
    if connection is None or not connection.is_active:
        return f"Stopped: {'the Jira connection needs reconnecting' if connection else 'Jira was disconnected'}."
    if job.kind == PushJob.Kind.AUTO:
        rule = SiteSyncRule.objects.filter(site_id=job.site_id).first()
        if rule is None or not rule.auto_push:
            return "Stopped: auto-push was switched off."
    return ""


def _auto_push_allows(item: PushJobItem) -> bool:
    """Forward-only, re-read now: a later re-enable stamps a new since, and the gap is backlog."""
    rule = SiteSyncRule.objects.filter(site_id=item.violation.site_id).first()
    since = rule.auto_push_since if rule else None
    return bool(rule and rule.auto_push and since and item.violation.first_detected_at >= since)


def _park(job: PushJob, wait: float, park: Callable[[int, float], None]) -> PushJob:
    wake = clock.now() + dt.timedelta(seconds=wait)
    PushJob.objects.filter(pk=job.pk, status=PushJob.Status.RUNNING).update(
        status=PushJob.Status.QUEUED, wake_at=wake, heartbeat_at=clock.now())
    log.info("jira.job.parked job=%s seconds=%.1f", job.pk, wait)
    park(job.pk, wait)
    job.refresh_from_db()
    return job


def _run_item(item, *, connection, client, job, gate, rand, violation_url) -> None:
    violation = item.violation
    try:
        result = violation_push(violation=violation, connection=connection, client=client,
                                violation_url=violation_url(violation), by=job.created_by)
    except PushRefused as refused:
        _finish_item(item, PushJobItem.Status.SKIPPED, reason=str(refused))
    except PushChecking as checking:
        _wait_for(item, checking.until)
    except PushInProgress as busy:
        _wait_for(item, clock.now() + dt.timedelta(seconds=BUSY_RETRY), reason=str(busy))
    except JiraRateLimited as limited:
        wait = limited.retry_after if limited.retry_after is not None else backoff(item.attempts + 1, rand)
        gate.pause(connection.cloud_id, wait, limited.reason)  # every process slows down, not just this one
        metrics.pause(pacing.pause_scope(limited.reason), limited.reason)
        _defer(item, wait, f"Jira rate limit ({limited.reason}); retrying")
    except FINAL as final:
        _refused(item, final, job=job, client=client)
    except (NeedsReconnect, NotConnected):
        return  # the loop stops the job on its next turn
    except JiraError as transient:  # transient: retry later (unknown outcomes raise PushChecking)
        _defer(item, backoff(item.attempts + 1, rand), str(transient))
    else:
        # Found by label after a create of ours went unanswered: pushed, not "already in Jira" (which says
        # the violation was in Jira before this push).
        if result.created or result.found:
            _finish_item(item, PushJobItem.Status.PUSHED, key=result.link.issue_key)
        else:
            _finish_item(item, PushJobItem.Status.SKIPPED, key=result.link.issue_key,
                         reason=f"Already in Jira as {result.link.issue_key}.")


def _refused(item: PushJobItem, error: JiraError, *, job: PushJob, client) -> None:
    """Jira refused the create: the item alone, or (circuit breaker) the rule for the whole site."""
    rule = SiteSyncRule.objects.filter(site_id=job.site_id).first()
    project = rule.project_key if rule else job.project_key
    issue_type = (rule.issue_type_name if rule else "") or "Task"
    names = refusals.field_names(client, project, rule, refusals.needs_field_names(error))
    message = refusals.rule_level(error, project_key=project, issue_type=issue_type, names=names)
    if message is None:
        _finish_item(item, PushJobItem.Status.FAILED, reason=str(error))
        return
    _finish_item(item, PushJobItem.Status.FAILED, reason=message)
    job.items.filter(status=PushJobItem.Status.PENDING).update(  # one message, on the job: not one per item
        status=PushJobItem.Status.FAILED, reason=NOT_SENT, updated_at=clock.now())
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.CANCELLED, cancel_reason=message[:200],
                                             finished_at=clock.now())
    if rule is not None:
        SiteSyncRule.objects.filter(pk=rule.pk).update(problems=[message])
    log.warning("jira.job.breaker job=%s site=%s", job.pk, job.site_id)
