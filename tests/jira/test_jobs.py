"""Push jobs: items, pacing and rate limits reason by reason, retries, cancellation, resumption."""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira.outbound import job_control, jobs, outcome
from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, PacingGate, PushJob, PushJobItem
from allyproof.integrations.jira.ui import selectors
from tests.jira.conftest import NoGate


pytestmark = pytest.mark.usefixtures("one_clock")  # tests/jira/conftest.py


def run(job, sandbox, gate=None):
    gate = gate or NoGate()
    return jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                             violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                             rand=lambda: 0.5)


def make_job(site, violations=None, kind=PushJob.Kind.BULK):
    violations = list(violations if violations is not None else site.violations.order_by("rule_id"))
    return jobs.push_job_create(site=site, violations=violations, kind=kind, project_key="ACME", enqueue=None)


def item_states(job):
    return list(job.items.values_list("violation__rule_id", "status", "issue_key", "reason"))


def test_bulk_job_pushes_every_item_once(acme, sandbox):
    job = make_job(acme)
    run(job, sandbox)
    job.refresh_from_db()
    assert job.status == PushJob.Status.COMPLETED and job.finished_at
    assert set(job.items.values_list("status", flat=True)) == {PushJobItem.Status.PUSHED}
    assert len(sandbox.issues(None)) == acme.violations.count()
    assert JiraLink.objects.filter(status="linked").count() == acme.violations.count()
    assert selectors.job_progress(job)["done"] == selectors.job_progress(job)["total"] == acme.violations.count()


def test_already_linked_and_excluded_items_are_skipped_with_reasons(acme, sandbox, rules_for):
    image_alt = acme.violations.get(rule_id="image-alt")
    run(make_job(acme, [image_alt]), sandbox)
    rules_for(acme, severities=("critical",))  # rules tightened after the tab was opened
    minor = acme.violations.filter(impact="minor").first()
    job = make_job(acme, [image_alt, minor])
    run(job, sandbox)
    states = dict((rule, (status, key, reason)) for rule, status, key, reason in item_states(job))
    assert states["image-alt"] == ("skipped", "ACME-1", "Already in Jira as ACME-1.")  # the key, to follow
    assert states[minor.rule_id][:2] == ("skipped", "") and "below this site's threshold" in states[minor.rule_id][2]


@pytest.mark.parametrize(
    ("reason", "paused_key"),
    [
        ("jira-quota-global-based", pacing.GLOBAL),
        ("jira-quota-tenant-based", "site"),
        ("jira-burst-based", "site"),
        ("jira-per-issue-on-write", "site"),
    ],
)
def test_each_rate_limit_reason_pauses_the_right_scope_and_retries(acme, sandbox, connected, reason, paused_key):
    violation = acme.violations.get(rule_id="image-alt")
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/rest/api/3/issue$", reason=reason, retry_after=30)
    gate = pacing.DatabaseGate(interval=0, clock=sandbox.clock.now, sleep=sandbox.clock.advance)
    job = make_job(acme, [violation])
    run(job, sandbox, gate=gate)
    key = connected.cloud_id if paused_key == "site" else pacing.GLOBAL
    paused = PacingGate.objects.get(key=key)
    assert paused.pause_reason == reason and paused.paused_until >= sandbox.clock.now() - 1
    other = pacing.GLOBAL if paused_key == "site" else connected.cloud_id
    assert not PacingGate.objects.filter(key=other, pause_reason=reason).exists()
    [state] = item_states(job)
    assert state[1] == "pushed"  # retried after the pause
    creates = [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/issue")]
    assert [r.status for r in creates] == [429, 201]
    assert creates[1].time - creates[0].time >= 30  # Retry-After honoured (sandbox clock)


def test_without_retry_after_the_backoff_is_atlassians(acme, sandbox):
    assert [round(jobs.backoff(n, rand=lambda: 0.5), 2) for n in (1, 2, 3, 4, 6, 9)] == [2.0, 4.0, 8.0, 16.0, 60.0, 60.0]
    assert jobs.backoff(1, rand=lambda: 0.0) == pytest.approx(1.4) and jobs.backoff(1, rand=lambda: 1.0) == pytest.approx(2.6)


def test_a_500_is_retried_and_still_makes_one_issue(acme, sandbox):
    violation = acme.violations.get(rule_id="image-alt")
    sandbox.faults.add(kind="error", status=500, method="POST", path=r"/rest/api/3/issue$")
    job = make_job(acme, [violation])
    run(job, sandbox)
    assert item_states(job)[0][1:3] == ("pushed", "ACME-1")
    assert len(sandbox.issues(None)) == 1


def test_a_required_field_added_in_jira_stops_the_site_after_one_create_with_one_message(
        acme, sandbox, rules_for, django_capture_on_commit_callbacks):
    rules_for(acme, issue_type="Task")
    sandbox.set_required_field(None, "ACME", "Task", "customfield_10060", "Cost centre", has_default=False)
    job = make_job(acme)
    assert job.items.count() > 2
    run(job, sandbox)
    message = "Jira now requires Cost centre for Task in ACME — fix it in Jira or in Sync rules, then Retry failed"
    creates = [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/rest/api/3/issue")]
    assert len(creates) == 1  # the circuit breaker: not one refusal per item
    job.refresh_from_db()
    assert job.status == PushJob.Status.CANCELLED and job.cancel_reason == message[:200]
    reasons = [reason for _, status, _, reason in item_states(job) if status == "failed"]
    assert len(reasons) == job.items.count() and reasons.count(message) == 1
    assert all(r in (message, jobs.NOT_SENT) for r in reasons)
    acme.jira_rule.refresh_from_db()
    assert acme.jira_rule.problems == [message]
    sandbox.clear_required_fields(None, "ACME")
    enqueued = []
    with django_capture_on_commit_callbacks(execute=True):
        assert job_control.push_job_retry_failed(job=job, enqueue=enqueued.append) == job.items.count()
    assert enqueued == [job.pk]  # handed to the worker once the retry commits
    acme.jira_rule.refresh_from_db()
    assert acme.jira_rule.problems == []
    run(job, sandbox)
    assert {status for _, status, _, _ in item_states(job)} == {"pushed"}


def test_refusals_that_made_nothing_give_up_after_max_attempts(acme, sandbox):
    # A 429 means Jira did nothing: safe to retry, and to give up on. (A 5xx on a create is an unknown
    # outcome instead: never given up, never created twice; see test_push.)
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/rest/api/3/issue$", count=50, retry_after=1)
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    run(job, sandbox)
    [(_, status, _, reason)] = item_states(job)
    assert status == "failed" and "gave up after 6 attempts" in reason
    assert job.items.get().attempts == jobs.MAX_ATTEMPTS == 6  # the row counts what the reason says
    assert PushJob.objects.get(pk=job.pk).status == PushJob.Status.COMPLETED


def test_retry_failed_pushes_what_failed(acme, sandbox, client, member_user):
    sandbox.set_required_field(None, "ACME", "Bug", "customfield_10050", "Customer", has_default=False)
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    run(job, sandbox)
    sandbox.clear_required_fields(None, "ACME")
    client.force_login(member_user)
    response = client.post(reverse("jira_job_retry", args=[acme.pk, job.pk]))
    assert response.status_code == 302
    run(job, sandbox)
    assert item_states(job)[0][1:3] == ("pushed", "ACME-1")


def test_disconnect_stops_a_job_at_its_next_item(acme, sandbox, connected, admin_user, client):
    job = make_job(acme)
    client.post(reverse("jira_disconnect"))
    assert PushJob.objects.get(pk=job.pk).status == PushJob.Status.CANCELLED
    assert run(job, sandbox) is None  # cancelled jobs are not claimed
    assert not sandbox.issues(None)
    assert set(job.items.values_list("reason", flat=True)) == {"Stopped: Jira was disconnected."}


def test_needs_reconnect_stops_the_job(acme, sandbox, connected):
    job = make_job(acme)
    type(connected).objects.filter(pk=connected.pk).update(status="needs_reconnect")
    run(job, sandbox)
    job.refresh_from_db()
    assert job.status == PushJob.Status.CANCELLED and "needs reconnecting" in job.cancel_reason


def test_sweeper_resumes_stale_jobs_only(acme, sandbox):
    running_dead = make_job(acme, [])
    PushJob.objects.filter(pk=running_dead.pk).update(status="running", heartbeat_at=clock.now() - dt.timedelta(minutes=5))
    running_alive = make_job(acme, [])
    PushJob.objects.filter(pk=running_alive.pk).update(status="running", heartbeat_at=clock.now())
    lost_enqueue = make_job(acme, [])
    PushJob.objects.filter(pk=lost_enqueue.pk).update(created_at=clock.now() - dt.timedelta(minutes=5))
    fresh = make_job(acme, [])
    enqueued = []
    resumed = job_control.push_jobs_sweep(enqueue=enqueued.append)
    assert sorted(resumed) == sorted(enqueued) == sorted([running_dead.pk, lost_enqueue.pk])
    assert fresh.pk not in resumed


def test_a_running_job_is_not_claimed_twice(acme, sandbox):
    job = make_job(acme, [])
    PushJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=clock.now())
    assert run(job, sandbox) is None


def test_a_stopped_job_says_why_on_every_item_and_when(acme, sandbox, connected):
    """What the job page shows after a stop: each item failed with the reason, stamped now, and the job
    cancelled with the reason and its end time (mutation testing: these fields were unchecked)."""
    job = make_job(acme)
    type(connected).objects.filter(pk=connected.pk).update(status="needs_reconnect")
    sandbox.clock.advance(7)
    run(job, sandbox)
    job.refresh_from_db()
    reason = "Stopped: the Jira connection needs reconnecting."
    assert (job.status, job.cancel_reason, job.finished_at) == (PushJob.Status.CANCELLED, reason, clock.now())
    items = list(job.items.values_list("status", "reason", "updated_at"))
    assert len(items) > 1
    assert set(items) == {(PushJobItem.Status.FAILED, reason, clock.now())}


def test_a_deferred_item_counts_one_attempt_and_waits_its_full_delay(acme, sandbox):
    job = make_job(acme)
    item = job.items.order_by("position").first()
    jobs._defer(item, 30, "Jira is busy. " + "x" * 400)
    item.refresh_from_db()
    assert (item.attempts, item.not_before, item.updated_at) == (1, clock.now() + dt.timedelta(seconds=30), clock.now())
    assert item.status == PushJobItem.Status.PENDING and len(item.reason) == 300


def test_a_stop_that_lands_while_an_item_is_out_stays_stopped_when_the_item_is_deferred(acme, sandbox, connected):
    """The runner read the item, then a disconnect stopped the job while the push was out; the deferral
    that follows (a 429, a busy reservation) writes only its own fields, so the item does not come back
    as pending in a cancelled job (mutation testing: `_defer` saving the whole row undid the stop)."""
    job = make_job(acme)
    item = job.items.order_by("position").first()  # the runner's copy, read before the push
    job_control.push_jobs_cancel(connected)
    jobs._defer(item, 30, "Jira rate limit (jira-quota-global-based); retrying")
    item.refresh_from_db()
    assert item.status == PushJobItem.Status.FAILED
    assert item.reason == "Stopped: Jira was disconnected."  # the page keeps saying why, not "retrying"
    assert not job.items.filter(status=PushJobItem.Status.PENDING).exists()


def test_a_stop_that_lands_while_the_protocol_waits_keeps_its_reason(acme, sandbox, connected):
    job = make_job(acme)
    item = job.items.order_by("position").first()
    job_control.push_jobs_cancel(connected)
    jobs._wait_for(item, clock.now() + dt.timedelta(seconds=60))
    item.refresh_from_db()
    assert (item.status, item.reason, item.not_before) == (
        PushJobItem.Status.FAILED, "Stopped: Jira was disconnected.", None)


def test_auto_push_takes_only_violations_first_found_since_it_was_switched_on(acme, sandbox):
    """`_auto_push_allows`, row by row: no rule, auto-push off, no start time, found before, at and after."""
    from types import SimpleNamespace

    from allyproof.integrations.jira.models import SiteSyncRule

    since = clock.now()

    def allows(found_at, **rule):
        SiteSyncRule.objects.filter(site=acme).update(**rule)
        item = SimpleNamespace(violation=SimpleNamespace(site_id=acme.pk, first_detected_at=found_at))
        return jobs._auto_push_allows(item)

    after = since + dt.timedelta(seconds=1)
    assert allows(after, auto_push=True, auto_push_since=since)
    assert allows(since, auto_push=True, auto_push_since=since)  # found at the very instant it was switched on
    assert not allows(since - dt.timedelta(seconds=1), auto_push=True, auto_push_since=since)
    assert not allows(after, auto_push=False, auto_push_since=since)
    assert not allows(after, auto_push=True, auto_push_since=None)
    SiteSyncRule.objects.filter(site=acme).delete()
    assert not jobs._auto_push_allows(SimpleNamespace(violation=SimpleNamespace(site_id=acme.pk, first_detected_at=after)))


def test_a_disconnect_cancels_only_this_organizations_unfinished_jobs(acme, sandbox, connected, other_org):
    """Mutation testing of `push_jobs_cancel`: not another organization's jobs, not a finished one."""
    from tests import factories

    own, finished = make_job(acme), make_job(acme, [])
    PushJob.objects.filter(pk=finished.pk).update(status=PushJob.Status.COMPLETED)
    theirs = make_job(factories.site(other_org, "Other Co", "https://other.example/"), [])
    job_control.push_jobs_cancel(connected)
    assert dict(PushJob.objects.values_list("pk", "status")) == {
        own.pk: PushJob.Status.CANCELLED, finished.pk: PushJob.Status.COMPLETED, theirs.pk: PushJob.Status.QUEUED}


def test_an_item_level_refusal_fails_that_item_alone_and_the_job_goes_on(acme, sandbox):
    """A 400 about the item (no field of the rule named): that item fails with Jira's words, stamped now;
    the others are pushed, the job completes, and the rule shows no problem."""
    violations = list(acme.violations.order_by("rule_id")[:3])
    sandbox.faults.add(kind="error", status=400, method="POST", path=r"/rest/api/3/issue$", count=1)
    job = make_job(acme, violations)
    run(job, sandbox)
    job.refresh_from_db()
    assert (job.status, job.cancel_reason) == (PushJob.Status.COMPLETED, "")
    first, *rest = job.items.order_by("position")
    assert (first.status, first.issue_key, first.reason, first.updated_at) == (
        PushJobItem.Status.FAILED, "", "Jira refused the request: Service Unavailable", clock.now())
    assert [item.status for item in rest] == [PushJobItem.Status.PUSHED] * 2
    acme.jira_rule.refresh_from_db()
    assert acme.jira_rule.problems == []


def test_a_rule_level_refusal_stamps_the_items_it_stops_and_the_job(acme, sandbox, rules_for):
    rules_for(acme, issue_type="Bug")
    sandbox.set_required_field(None, "ACME", "Bug", "customfield_10060", "Cost centre", has_default=False)
    job = make_job(acme)
    run(job, sandbox)
    job.refresh_from_db()
    assert job.cancel_reason.startswith("Jira now requires Cost centre for Bug in ACME")  # the rule's type
    assert job.finished_at == clock.now()
    assert set(job.items.values_list("reason", "updated_at")) >= {(jobs.NOT_SENT, clock.now())}
    assert None not in set(job.items.values_list("updated_at", flat=True))


def test_a_rule_level_message_names_the_rules_project_now_and_its_default_type(acme, sandbox, rules_for):
    """The job was made for ACME; the rule moved to BETA before its first item, with no issue type saved
    (pushes then send "Task"): the message names what the create asked for. Without the type's id there is
    no createmeta to ask for the field's name, so the message names its id."""
    job = make_job(acme)
    rule = rules_for(acme, key="BETA")
    type(rule).objects.filter(pk=rule.pk).update(issue_type_name="", issue_type_id="")
    sandbox.set_required_field(None, "BETA", "Task", "customfield_10060", "Cost centre", has_default=False)
    run(job, sandbox)
    job.refresh_from_db()
    assert job.cancel_reason == ("Jira now requires customfield_10060 for Task in BETA — fix it in Jira or in Sync "
                                 "rules, then Retry failed")


def test_a_long_rule_level_message_is_cut_to_the_jobs_field_and_kept_whole_on_the_rule(acme, sandbox, rules_for):
    rules_for(acme, issue_type="Task")
    name = "Cost centre of the department that owns this page " * 7
    sandbox.set_required_field(None, "ACME", "Task", "customfield_10060", name, has_default=False)
    job = make_job(acme)
    run(job, sandbox)
    job.refresh_from_db()
    acme.jira_rule.refresh_from_db()
    [message] = acme.jira_rule.problems
    assert len(message) > 300 and name in message
    assert job.cancel_reason == message[:200]
    assert job.items.order_by("position").first().reason == message[:300]  # the item's field is longer


def test_a_refusal_after_the_rule_was_deleted_names_the_jobs_project_and_task(acme, sandbox):
    """The rule removed while the create was out (a person un-routed the site): the breaker still speaks of
    what the job was made for, and there is no rule row to mark."""
    from allyproof.integrations.jira.connection.errors import JiraValidationError

    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    acme.jira_rule.delete()
    item = job.items.get()
    refused = JiraValidationError("Jira refused the request", errors={"customfield_10060": "Cost centre is required."})
    jobs._refused(item, refused, job=job, client=None)
    job.refresh_from_db()
    assert (job.status, job.cancel_reason) == (
        PushJob.Status.CANCELLED,
        "Jira now requires customfield_10060 for Task in ACME — fix it in Jira or in Sync rules, then Retry failed")


def test_an_item_whose_create_was_lost_waits_checking_until_the_protocols_next_look(acme, sandbox):
    """A lost create: the item stays pending, says "Checking Jira…", is stamped now and not due before the
    protocol's next label search; the job parks meanwhile (its thread is free) and later finds the issue."""
    violation = acme.violations.get(rule_id="image-alt")
    sandbox.set_search_lag(None, 240)
    sandbox.faults.add(kind="drop_response_after_commit", method="POST", path=r"/rest/api/3/issue$")
    job = make_job(acme, [violation])
    parked = []
    gate = NoGate()
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5, park=lambda pk, wait: parked.append((pk, wait)))
    item = job.items.get()
    link = JiraLink.objects.get(violation=violation)
    assert (item.status, item.reason, item.updated_at) == (PushJobItem.Status.PENDING, jobs.CHECKING, clock.now())
    step = outcome.next_step(sent_at=link.sent_at, checked_at=link.checked_at, now=clock.now(),
                             windows=outcome.Windows.from_config(settings.CONFIG))
    assert step.action == "wait" and item.not_before == step.at > clock.now()
    assert parked == [(job.pk, (item.not_before - clock.now()).total_seconds())]
    run(job, sandbox)
    assert item_states(job) == [("image-alt", "pushed", "ACME-1", "")]
    assert len(sandbox.issues(None)) == 1


class SlowGate(NoGate):
    """Each call to Jira takes 0.2 s of the shared clock: a job's turn (jobs.TURN) runs out after a few."""

    def __init__(self, sandbox):
        super().__init__()
        self.sandbox = sandbox

    def wait(self, site, max_wait=None):
        super().wait(site, max_wait)
        self.sandbox.clock.advance(0.2)

    def peek(self, site):
        return 0.0


@pytest.mark.parametrize("other", ["none", "due", "asleep"])
def test_a_job_hands_its_thread_back_after_its_turn_only_when_another_job_is_due(other, acme, sandbox):
    """Round robin over jobs: past its turn, a job with another job queued and due goes back to the queue
    (wake now, parked for 0 s); with no other job, or only one asleep until later, it goes on to the end."""
    violations = list(acme.violations.order_by("rule_id")[:6])
    job = make_job(acme, violations[:5])
    elsewhere = make_job(acme, violations[5:])  # another worker's job, running: parking ours leaves it be
    PushJob.objects.filter(pk=elsewhere.pk).update(status=PushJob.Status.RUNNING)
    if other != "none":
        waiting = make_job(acme, violations[5:])
        if other == "asleep":
            PushJob.objects.filter(pk=waiting.pk).update(wake_at=clock.now() + dt.timedelta(minutes=5))
    gate, parked = SlowGate(sandbox), []
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5, park=lambda pk, wait: parked.append((pk, wait)))
    job.refresh_from_db()
    pushed = job.items.filter(status=PushJobItem.Status.PUSHED).count()
    if other == "due":
        assert (job.status, job.wake_at, job.heartbeat_at) == (PushJob.Status.QUEUED, clock.now(), clock.now())
        assert parked == [(job.pk, 0.0)] and 0 < pushed < 5
    else:
        assert (job.status, parked, pushed) == (PushJob.Status.COMPLETED, [], 5)
    assert PushJob.objects.get(pk=elsewhere.pk).status == PushJob.Status.RUNNING


def test_parking_never_brings_back_a_job_cancelled_meanwhile(acme, sandbox):
    """A person's cancel lands between the job's last heartbeat and its parking: it stays cancelled, and
    the queue is still told (it finds the job cancelled and drops it)."""
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.CANCELLED)
    parked = []
    job = jobs._park(job, 30.0, lambda pk, wait: parked.append((pk, wait)))
    assert (job.status, job.wake_at, parked) == (PushJob.Status.CANCELLED, None, [(job.pk, 30.0)])


class Watch:
    """The job's sleep: records (seconds, the item's reason and attempts as stored) and advances the clock;
    `then` runs after each sleep (another worker finishing, say)."""

    def __init__(self, sandbox, item, then=None):
        self.sandbox, self.item, self.then, self.seen = sandbox, item, then, []

    def __call__(self, seconds):
        self.item.refresh_from_db()
        self.seen.append((seconds, self.item.reason, self.item.attempts))
        self.sandbox.clock.advance(seconds)
        if self.then:
            self.then(self)


def run_watched(job, sandbox, watch, client=None):
    gate = NoGate()
    return jobs.push_job_run(job_id=job.pk, client_for=client or (lambda c: client_for(c, gate=gate)),
                             violation_url=push.absolute_violation_url, gate=gate, sleep=watch, rand=lambda: 0.5)


@pytest.mark.parametrize(("retry_after", "wait", "reason"), [
    (30, 30.0, "Jira rate limit (jira-burst-based); retrying"),  # Jira's Retry-After, to the second
    (0, 2.0, "Jira rate limit (unknown); retrying"),  # a bare 429: our backoff's first step (2 s at rand 0.5)
])
def test_a_429_defers_the_item_by_retry_after_or_else_the_backoff_and_pauses_the_site(
        retry_after, wait, reason, acme, sandbox):
    violation = acme.violations.get(rule_id="image-alt")
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/rest/api/3/issue$", retry_after=retry_after)
    job = make_job(acme, [violation])
    bystander = make_job(acme, [acme.violations.exclude(pk=violation.pk).first()])  # another job's pending item
    watch = Watch(sandbox, job.items.get())
    gate = NoGate()
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=watch, rand=lambda: 0.5)
    assert sum(seconds for seconds, _, _ in watch.seen) == wait  # in naps of at most 5 s
    assert {(why, attempts) for _, why, attempts in watch.seen} == {(reason, 1)}
    assert {(seconds, why) for _, seconds, why in gate.pauses} == {(wait, reason.split("(")[1].split(")")[0])}
    assert item_states(job) == [("image-alt", "pushed", "ACME-1", "")]
    assert list(bystander.items.values_list("status", "reason", "not_before", "attempts")) == [
        (PushJobItem.Status.PENDING, "", None, 0)]  # deferring one item touches no other


class ConnectFailsOnce:
    """A real client whose first create never reaches Jira (httpx's ConnectError, as the transport says it)."""

    def __init__(self, client):
        self.client, self.failed = client, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create_issue(self, body):
        if not self.failed:
            from allyproof.integrations.jira.connection.errors import JiraTransientError

            self.failed = True
            raise JiraTransientError("could not reach Atlassian (ConnectError)")
        return self.client.create_issue(body)


def test_a_create_that_never_reached_jira_is_an_attempt_retried_after_the_backoff(acme, sandbox):
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    watch = Watch(sandbox, job.items.get())
    client = ConnectFailsOnce(client_for(acme.organization.jira_connections.get(), gate=NoGate()))
    run_watched(job, sandbox, watch, client=lambda c: client)
    assert watch.seen == [(2.0, "could not reach Atlassian (ConnectError)", 1)]
    assert item_states(job) == [("image-alt", "pushed", "ACME-1", "")] and len(sandbox.issues(None)) == 1


def test_an_item_another_worker_is_pushing_waits_without_spending_attempts(acme, sandbox, connected):
    """Another worker holds the violation's claim for 60 s (a slow Jira), then links it: the job looks again
    every 5 s, counts no attempt (six would have failed it meanwhile), and reports the other push's key."""
    violation = acme.violations.get(rule_id="image-alt")
    now = clock.now()
    other = JiraLink.objects.create(organization_id=connected.organization_id, violation=violation,
                                    cloud_id=connected.cloud_id, dedupe_key=push.dedupe_key(
                                        organization_id=connected.organization_id, cloud_id=connected.cloud_id,
                                        violation=violation),
                                    project_key="ACME", created_at=now, claim="another-worker", claimed_at=now)

    def elsewhere(watch):
        if sandbox.clock.now() - now.timestamp() >= 59.5:  # after twelve naps of 5 s (floats: not exactly 60)
            JiraLink.objects.filter(pk=other.pk).update(status=JiraLink.Status.LINKED, issue_key="ACME-7",
                                                        issue_id="10077", claim="")

    job = make_job(acme, [violation])
    watch = Watch(sandbox, job.items.get(), then=elsewhere)
    run_watched(job, sandbox, watch)
    assert watch.seen == [(5.0, "This violation is being pushed to Jira right now.", 0)] * 12
    assert item_states(job) == [("image-alt", "skipped", "ACME-7", "Already in Jira as ACME-7.")]
    assert sandbox.issues(None) == []


@pytest.mark.parametrize(("due_in", "park", "slept", "parked"), [
    (0.3, False, [0.3], []),  # the next item is near: sleep just that long
    (0.01, False, [0.05], []),  # never a busy loop: at least 50 ms
    (8.0, False, [5.0], []),  # naps of at most 5 s, so a cancel or a stop is seen soon
    (2.0, True, [2.0], []),  # a queue to park in, but the wait is not over PARK_AFTER: sleep it
    (3.0, True, [], [3.0]),  # over PARK_AFTER: back to the queue, woken then
])
def test_when_no_item_is_due_the_job_sleeps_or_parks(due_in, park, slept, parked, acme, sandbox):
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.RUNNING)
    now = clock.now()
    job.items.update(not_before=now + dt.timedelta(seconds=due_in))
    sleeps, parks = [], []
    returned = jobs._when_none_due(job, now, sleep=sleeps.append,
                                   park=(lambda pk, wait: parks.append((pk, wait))) if park else None)
    assert (sleeps, parks) == (slept, [(job.pk, wait) for wait in parked])
    job.refresh_from_db()
    if parked:
        assert returned == job and (job.status, job.wake_at) == (PushJob.Status.QUEUED, now + dt.timedelta(seconds=3))
    else:
        assert returned is None and job.status == PushJob.Status.RUNNING


def test_a_job_with_nothing_pending_completes_and_forgets_its_wake_time(acme, sandbox):
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.RUNNING, wake_at=clock.now())  # was parked
    job.items.update(status=PushJobItem.Status.PUSHED)
    returned = jobs._when_none_due(job, clock.now(), sleep=None, park=None)
    assert (returned.status, returned.finished_at, returned.wake_at) == (PushJob.Status.COMPLETED, clock.now(), None)


def test_a_jobs_push_names_who_asked_and_links_back_to_the_violation(acme, sandbox, member_user):
    violation = acme.violations.get(rule_id="image-alt")
    job = jobs.push_job_create(site=acme, violations=[violation], kind=PushJob.Kind.BULK, project_key="ACME",
                               enqueue=None, by=member_user)
    run(job, sandbox)
    link = JiraLink.objects.get(violation=violation)
    assert link.created_by == member_user
    issue = sandbox.get_issue(None, "ACME-1")
    assert push.absolute_violation_url(violation) in json.dumps(issue["fields"]["description"])


def test_an_auto_job_skips_what_was_found_before_auto_push_was_switched_on_and_goes_on(acme, sandbox):
    from allyproof.integrations.jira.models import SiteSyncRule

    old, new = list(acme.violations.order_by("rule_id")[:2])
    since = clock.now()
    acme.violations.filter(pk=old.pk).update(first_detected_at=since - dt.timedelta(days=1))
    acme.violations.filter(pk=new.pk).update(first_detected_at=since)
    SiteSyncRule.objects.filter(site=acme).update(auto_push=True, auto_push_since=since)
    job = make_job(acme, [old, new], kind=PushJob.Kind.AUTO)
    run(job, sandbox)
    assert item_states(job) == [(old.rule_id, "skipped", "", jobs.AUTO_PUSH_BEFORE), (new.rule_id, "pushed", "ACME-1", "")]


@pytest.mark.parametrize(("status", "kind", "auto_push", "expected"), [
    (None, PushJob.Kind.BULK, False, "Stopped: Jira was disconnected."),  # no current connection
    ("needs_reconnect", PushJob.Kind.BULK, False, "Stopped: the Jira connection needs reconnecting."),
    ("active", PushJob.Kind.BULK, False, ""),
    ("active", PushJob.Kind.AUTO, True, ""),
    ("active", PushJob.Kind.AUTO, False, "Stopped: auto-push was switched off."),
    ("active", PushJob.Kind.AUTO, None, "Stopped: auto-push was switched off."),  # the rule deleted
])
def test_the_stop_reason_read_before_every_item(status, kind, auto_push, expected, acme, sandbox, connected):
    from allyproof.integrations.jira.models import SiteSyncRule

    job = make_job(acme, kind=kind)
    if auto_push is None:
        SiteSyncRule.objects.filter(site=acme).delete()
    else:
        SiteSyncRule.objects.filter(site=acme).update(auto_push=auto_push)
    if status:
        connected.status = status
    assert jobs._stop_reason(job, connected if status else None) == expected


def test_a_job_is_claimed_once_and_a_stale_runner_is_taken_over_keeping_its_start(acme, sandbox):
    job = make_job(acme)
    start = clock.now()
    assert jobs._claim(job.pk)
    job.refresh_from_db()
    assert (job.status, job.heartbeat_at, job.started_at) == (PushJob.Status.RUNNING, start, start)
    assert not jobs._claim(job.pk)  # its runner beats: nobody else runs it
    sandbox.clock.advance(job_control.heartbeat_stale().total_seconds() + 1)
    assert jobs._claim(job.pk)  # the runner stopped beating (a crashed worker): taken over
    job.refresh_from_db()
    assert (job.status, job.heartbeat_at, job.started_at) == (PushJob.Status.RUNNING, clock.now(), start)
    for finished in (PushJob.Status.CANCELLED, PushJob.Status.COMPLETED):
        PushJob.objects.filter(pk=job.pk).update(status=finished, heartbeat_at=start)
        assert not jobs._claim(job.pk)


def test_a_job_run_without_a_gate_paces_with_the_default_one(acme, sandbox):
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=NoGate()),
                      violation_url=push.absolute_violation_url, sleep=sandbox.clock.advance)
    assert item_states(job) == [("image-alt", "pushed", "ACME-1", "")]
    assert PacingGate.objects.filter(key=acme.organization.jira_connections.get().cloud_id).exists()


def test_every_item_beats_the_jobs_heartbeat(acme, sandbox):
    job = make_job(acme, list(acme.violations.order_by("rule_id")[:3]))
    gate = SlowGate(sandbox)
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5)
    job.refresh_from_db()
    assert job.status == PushJob.Status.COMPLETED
    assert job.heartbeat_at > job.started_at  # written before the last item, after the claim's


@pytest.mark.parametrize(("slot_in", "parks"), [(jobs.PARK_AFTER, False), (jobs.PARK_AFTER + 0.5, True)])
def test_a_job_parks_when_its_next_slot_is_further_than_park_after(slot_in, parks, acme, sandbox):
    class FarGate(NoGate):
        def peek(self, site):
            return slot_in

    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    gate, parked = FarGate(), []
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5, park=lambda pk, wait: parked.append((pk, wait)))
    job.refresh_from_db()
    if parks:
        assert (job.status, parked) == (PushJob.Status.QUEUED, [(job.pk, slot_in)])
        assert job.wake_at == clock.now() + dt.timedelta(seconds=slot_in)
    else:
        assert (job.status, parked) == (PushJob.Status.COMPLETED, [])


def test_a_job_alone_past_its_turn_starts_a_whole_new_turn(acme, sandbox):
    """No other job was waiting when its first turn ended: a new turn starts then, so a job queued a moment
    later waits for that turn's end (0.45 s: two more calls of 0.2 s) before this one hands the thread over."""
    violations = list(acme.violations.order_by("rule_id"))
    assert len(violations) >= 8
    job = make_job(acme, violations[:7])
    gate, parked = SlowGate(sandbox), []
    calls = [0]
    wait = gate.wait

    def counting_wait(site, max_wait=None):
        calls[0] += 1
        if calls[0] == 4:  # during the fourth item, just after the first turn was renewed
            make_job(acme, violations[7:8])
        wait(site, max_wait)

    gate.wait = counting_wait
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5, park=lambda pk, wait: parked.append((pk, wait)))
    job.refresh_from_db()
    assert (job.status, parked) == (PushJob.Status.QUEUED, [(job.pk, 0.0)])
    assert job.items.filter(status=PushJobItem.Status.PUSHED).count() == 6


def test_a_job_parks_for_its_own_sites_pause(acme, sandbox, connected):
    """peek asks about the job's Jira site: a 30 s pause there parks the job for 30 s before any create."""
    gate = pacing.DatabaseGate(interval=0, clock=sandbox.clock.now, sleep=sandbox.clock.advance)
    gate.pause(connected.cloud_id, 30, "jira-burst-based")
    job = make_job(acme, [acme.violations.get(rule_id="image-alt")])
    parked = []
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5, park=lambda pk, wait: parked.append((pk, wait)))
    assert [(pk, round(wait)) for pk, wait in parked] == [(job.pk, 30)]
    assert sandbox.issues(None) == []
