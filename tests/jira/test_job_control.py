"""job_control: stopping, retrying, cancelling auto jobs and the sweeper's choice of jobs to enqueue again
(mutation testing: these had tests only through the pages and the workers, which left most fields unchecked)."""

import datetime as dt

import pytest

from allyproof.core import clock
from allyproof.integrations.jira.models import PushJob, PushJobItem
from allyproof.integrations.jira.outbound import job_control, jobs


pytestmark = pytest.mark.usefixtures("one_clock")  # tests/jira/conftest.py


def make_job(site, kind=PushJob.Kind.BULK, count=2):
    return jobs.push_job_create(site=site, violations=list(site.violations.order_by("rule_id")[:count]), kind=kind,
                                project_key="ACME", enqueue=None)


def test_a_stop_fails_the_pending_items_and_cuts_a_long_reason_to_each_field(acme, sandbox):
    job = make_job(acme)
    reason = "Stopped: " + "the site's routing changed in a way that needs a person to look at it; " * 6
    job_control.stop_job(job, reason)
    job.refresh_from_db()
    assert len(reason) > 300
    assert (job.status, job.cancel_reason, job.finished_at) == (PushJob.Status.CANCELLED, reason[:200], clock.now())
    assert set(job.items.values_list("status", "reason", "updated_at")) == {
        (PushJobItem.Status.FAILED, reason[:300], clock.now())}


def test_retry_failed_starts_the_failed_items_afresh_and_requeues_the_job(acme, sandbox,
                                                                         django_capture_on_commit_callbacks):
    job = make_job(acme)
    later = clock.now() + dt.timedelta(minutes=5)
    job.items.update(status=PushJobItem.Status.FAILED, attempts=4, not_before=later, reason="Jira answered 502")
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.CANCELLED, finished_at=clock.now(),
                                             cancel_reason="Jira now requires Cost centre", wake_at=later)
    enqueued = []
    with django_capture_on_commit_callbacks(execute=True):
        assert job_control.push_job_retry_failed(job=job, enqueue=enqueued.append) == 2
    job.refresh_from_db()
    assert (job.status, job.finished_at, job.cancel_reason, job.wake_at) == (PushJob.Status.QUEUED, None, "", None)
    assert set(job.items.values_list("status", "attempts", "not_before", "reason")) == {
        (PushJobItem.Status.PENDING, 0, None, "")}
    assert enqueued == [job.pk]


def test_switching_auto_push_off_stops_only_this_sites_unfinished_auto_jobs(acme, sandbox):
    from tests import factories

    other_site = factories.site(acme.organization, name="Beta Shop", base_url="https://beta.example/")
    queued, running, done = (make_job(acme, PushJob.Kind.AUTO) for _ in range(3))
    PushJob.objects.filter(pk=running.pk).update(status=PushJob.Status.RUNNING)
    PushJob.objects.filter(pk=done.pk).update(status=PushJob.Status.COMPLETED)
    bulk = make_job(acme)
    elsewhere = PushJob.objects.create(organization_id=acme.organization_id, site=other_site,
                                       kind=PushJob.Kind.AUTO, project_key="ACME", created_at=clock.now())
    assert job_control.auto_jobs_cancel(site_id=acme.pk) == 2
    status = dict(PushJob.objects.values_list("pk", "status"))
    assert (status[queued.pk], status[running.pk]) == (PushJob.Status.CANCELLED, PushJob.Status.CANCELLED)
    assert (status[done.pk], status[bulk.pk], status[elsewhere.pk]) == (
        PushJob.Status.COMPLETED, PushJob.Status.QUEUED, PushJob.Status.QUEUED)


STALE = dt.timedelta(seconds=1)  # just past heartbeat_stale(), added to it below


@pytest.mark.parametrize(("status", "heartbeat_ago", "created_ago", "wake_in", "resumed"), [
    ("running", "stale", "stale", None, True),  # its runner stopped beating
    ("running", "fresh", "stale", None, False),  # its runner beats
    ("queued", None, "stale", None, True),  # queued long ago and never taken: the enqueue was lost
    ("queued", None, "fresh", None, False),  # just queued: its worker has not had time
    ("queued", None, "stale", "future", False),  # parked, its wake to come
    ("queued", None, "stale", "soon_past", False),  # parked, its wake just due: the queue is on it
    ("queued", None, "stale", "stale_past", True),  # parked, its wake long past: the wake was lost
    ("completed", "stale", "stale", None, False),
    ("cancelled", "stale", "stale", "stale_past", False),
])
def test_the_sweeper_enqueues_again_only_jobs_whose_runner_or_wake_was_lost(
        status, heartbeat_ago, created_ago, wake_in, resumed, acme, sandbox):
    job = make_job(acme)
    now, stale = clock.now(), job_control.heartbeat_stale() + STALE
    ago = {"stale": now - stale, "fresh": now, None: None}
    wake = {None: None, "future": now + dt.timedelta(minutes=5), "soon_past": now - STALE,
            "stale_past": now - stale}[wake_in]
    PushJob.objects.filter(pk=job.pk).update(status=status, heartbeat_at=ago[heartbeat_ago],
                                             created_at=ago[created_ago], wake_at=wake)
    enqueued = []
    assert job_control.push_jobs_sweep(enqueue=enqueued.append) == enqueued == ([job.pk] if resumed else [])
