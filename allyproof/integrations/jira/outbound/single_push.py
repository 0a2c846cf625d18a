"""The violation page's Push to Jira: the worker pushes, the request waits for it up to a budget.

Why the request never calls Jira itself: a create whose answer the request stopped waiting for is an
unknown outcome, and an unknown outcome may only be followed by another create after the commit and
search-lag windows (minutes). An in-request attempt with a short timeout would turn every slow Jira
into such a wait and into a second code path that creates issues. Here there is one: the push job,
the same runner (reservation, pacing, rate limits, unknown-outcome protocol) as bulk pushes. The
request queues a single-item job and watches its row for `JIRA_PUSH_WAIT_MS`; when the worker has
finished by then the person gets the key in the response, otherwise "Pushing…", and the page polls
the same row until the key is there. Nobody waits on Jira's timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from allyproof.monitoring.models import Violation

from allyproof.integrations.jira.outbound import job_control, jobs
from allyproof.integrations.jira.models import PushJob, PushJobItem, SiteSyncRule

POLL_STEP = 0.05  # seconds between two looks at the job row while a person waits
ACTIVE = (PushJob.Status.QUEUED, PushJob.Status.RUNNING)


@dataclass(frozen=True)
class Outcome:
    """What to tell the person about a finished item: message level and text."""

    level: str
    text: str
    refused: bool = False


def wait_budget() -> float:
    return settings.CONFIG.jira_push_wait_ms / 1000


def active_job(*, violation: Violation) -> PushJob | None:
    """A queued or running job (of any kind) that still has this violation to push."""
    return (PushJob.objects.filter(status__in=ACTIVE, items__violation=violation,
                                   items__status=PushJobItem.Status.PENDING)
            .order_by("created_at").first())


def single_push_start(*, violation: Violation, enqueue: job_control.Enqueue | None, by=None) -> PushJob:
    """Queues the push (after commit); a second click, or a second tab, joins the job already there."""
    job = active_job(violation=violation)
    if job is not None:
        return job
    rule = SiteSyncRule.objects.get(site_id=violation.site_id)
    return jobs.push_job_create(site=violation.site, violations=[violation], kind=PushJob.Kind.SINGLE,
                                project_key=rule.project_key, enqueue=enqueue, by=by)


def job_item(*, job: PushJob, violation: Violation) -> PushJobItem | None:
    return PushJobItem.objects.filter(job=job, violation=violation).first()


def single_push_wait(*, job: PushJob, violation: Violation, budget: float,
                     sleep: Callable[[float], None] = time.sleep,
                     elapsed: Callable[[], float] | None = None) -> PushJobItem | None:
    """The finished item, or None when the budget ran out first (the worker goes on regardless).

    The budget ends at whichever comes first: `budget` seconds on the monotonic clock, counted from the
    call (each look at the rows takes time too: counting only the sleeps answered at 2.3–2.4 s for a 2 s
    budget, tests/jira/test_cases_e2e_browser.py case 8), or the steps a full budget of sleeps holds, so a
    fake sleep that lets no time pass cannot make a request wait for ever.
    """
    elapsed = elapsed or _since(time.monotonic())
    steps = round(budget / POLL_STEP)
    for step in range(steps + 1):
        item = job_item(job=job, violation=violation)
        if item is None or item.status != PushJobItem.Status.PENDING:
            return item
        job.refresh_from_db(fields=["status"])
        if job.status not in ACTIVE:  # cancelled (disconnect, rule off): the item will not run
            return job_item(job=job, violation=violation)
        left = budget - elapsed()
        if step == steps or left <= 0:
            return None
        sleep(min(POLL_STEP, left))
    return None


def _since(start: float) -> Callable[[], float]:
    return lambda: time.monotonic() - start


def outcome(item: PushJobItem) -> Outcome:
    """The words for a finished item, the same whether the request or a later poll saw it finish."""
    if item.status == PushJobItem.Status.PUSHED:
        return Outcome("success", f"Created {item.issue_key}.")
    if item.status == PushJobItem.Status.SKIPPED and item.issue_key:
        return Outcome("success", f"Already in Jira as {item.issue_key}.")
    if item.status == PushJobItem.Status.SKIPPED:
        return Outcome("error", item.reason, refused=True)  # a gate said no at push time
    if item.status == PushJobItem.Status.PENDING:  # its job stopped before it ran
        return Outcome("error", "The push was stopped before it reached Jira.", refused=True)
    if item.job.status == PushJob.Status.CANCELLED:  # "Stopped: Jira was disconnected." and the like
        return Outcome("error", item.reason, refused=True)
    return Outcome("error", f"Jira refused the push: {item.reason}", refused=True)
