"""The app-wide points budget: headers in every spelling, fair grants across Jira sites, the pause when the
pool is spent (with its words on the page), the headroom left to single pushes, and no item failed for it."""

import datetime as dt

import httpx
import pytest
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira.connection import budget
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection import ratelimit_headers as rl
from allyproof.integrations.jira.connection.client import error_for
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import PushJob, PushJobItem
from tests.services import redis_url

# --- headers ---------------------------------------------------------------------------------------

ENFORCED = {"RateLimit-Policy": '"global-app-quota";q=65000;w=3600, "tenant-app-quota";q=100000;w=3600',
            "RateLimit": '"tenant-app-quota";r=900;t=120, "global-app-quota";r=11000;t=600'}
BETA = {"Beta-RateLimit-Policy": '"tenant-app-quota";q=100000;w=3600, "global-app-quota";q=65000;w=3600',
        "Beta-RateLimit": '"global-app-quota";r=11000;t=600, "tenant-app-quota";r=900;t=120'}


@pytest.mark.parametrize("headers", [ENFORCED, BETA, {k.lower(): v for k, v in BETA.items()},
                                     httpx.Headers(ENFORCED)], ids=["enforced", "beta", "lower-case", "httpx"])
def test_both_pools_are_read_whatever_the_spelling_and_order(headers):
    reading = rl.read(headers, status=200)
    assert reading.pools == {"global-app-quota": rl.PoolReading(65000, 11000, 600),
                             "tenant-app-quota": rl.PoolReading(100000, 900, 120)}


def test_the_policy_header_may_be_absent_at_zero_and_burst_figures_are_not_points():
    served = rl.read({"RateLimit": '"global-app-quota";r=0;t=60', "X-RateLimit-Limit": "350",
                      "X-RateLimit-Remaining": "349"}, status=200)
    assert served.pools == {"global-app-quota": rl.PoolReading(None, 0, 60)}
    assert rl.read({"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "349"}, status=200).pools == {}


@pytest.mark.parametrize(("headers", "reason", "retry_after"), [
    ({"RateLimit-Reason": "jira-quota-global-based", "Retry-After": "1847"}, "jira-quota-global-based", 1847),
    ({"X-Beta-RateLimit-Reason": "jira-quota-tenant-based", "Beta-Retry-After": "30"}, "jira-quota-tenant-based", 30),
    ({"X-RateLimit-Reason": "jira-burst-based", "Retry-After": "2"}, "jira-burst-based", 2),
    ({}, "unknown", None),  # a gateway 429 without reason nor Retry-After (seen in April 2026)
])
def test_a_429_is_read_in_every_spelling(headers, reason, retry_after):
    error = error_for(httpx.Response(429, headers={**headers, "X-Beta-RateLimit-Reset": "2026-03-20T15:00:00Z"}),
                      idempotent=False)
    assert (error.reason, error.retry_after) == (reason, retry_after)
    assert error.reset_at == dt.datetime(2026, 3, 20, 15, tzinfo=dt.UTC)
    if reason == "jira-quota-global-based":  # Jira said when to retry: the pause holds us, the pool is not emptied
        assert "global-app-quota" not in rl.read(httpx.Headers(headers), status=429).pools


@pytest.mark.parametrize("reason", ["jira-quota-global-based", "jira-quota-tenant-based"])
def test_a_refused_quota_without_retry_after_is_empty_to_the_reset(reason):
    headers = httpx.Headers({"RateLimit-Reason": reason, "X-RateLimit-Reset": "2026-03-20T15:00:00Z"})
    pool = rl.QUOTA_REASONS[reason]
    assert rl.read(headers, status=429).pools[pool].remaining == 0
    assert pool not in rl.read(httpx.Headers({**headers, "Retry-After": "2"}), status=429).pools


# --- decisions ---------------------------------------------------------------------------------------

HOUR0 = 1_000 * 3600.0  # the top of an hour on the gate's clock


def test_bulk_spends_its_fair_share_of_the_rate_that_lasts_the_hour_and_interactive_the_headroom():
    pool = budget.Pool(quota=3600, used=0)
    share = budget.decide(now=HOUR0, global_pool=pool, site_pool=budget.Pool(None), active_sites=10,
                          lane_=budget.BULK, headroom=0.0)
    assert share == budget.Decision(spacing=10.0)  # 1 point a second for the app, a tenth of it per site
    spent = budget.Pool(quota=3600, used=3500)  # 100 left, 108 kept as headroom
    bulk = budget.decide(now=HOUR0 + 60, global_pool=spent, site_pool=budget.Pool(None), active_sites=1,
                         lane_=budget.BULK, headroom=0.03)
    assert bulk.blocked_until == HOUR0 + 3600
    person = budget.decide(now=HOUR0 + 60, global_pool=spent, site_pool=budget.Pool(None), active_sites=1,
                           lane_=budget.INTERACTIVE, headroom=0.03)
    assert person == budget.Decision(0.0, None)
    empty = budget.decide(now=HOUR0 + 60, global_pool=budget.Pool(3600, 3600), site_pool=budget.Pool(None),
                          active_sites=1, lane_=budget.INTERACTIVE, headroom=0.03)
    assert empty.blocked_until == HOUR0 + 3600


def test_a_sites_own_quota_limits_that_site_only():
    tight = budget.decide(now=HOUR0, global_pool=budget.Pool(65000), site_pool=budget.Pool(360), active_sites=1,
                          lane_=budget.BULK, headroom=0.0)
    assert tight.spacing == pytest.approx(10.0)


class FakeTime:
    def __init__(self, now=HOUR0):
        self.now = now

    def clock(self):
        return self.now


def simulate_grants(gate, shared, requesters, *, until):
    """Each requester asks again as soon as its call went out; returns the grants as (time, site)."""
    ready = {r: HOUR0 for r in requesters}  # requester → when it asks next
    grants = []
    while True:
        requester = min(ready, key=lambda r: (ready[r], r))
        if ready[requester] >= until:
            return grants
        gate.clock_source.now = ready[requester]
        with budget.lane(budget.BULK):
            slot = ready[requester] + gate._reserve(requester[0])
        shared.record(requester[0], method="POST", status=201, headers={})
        grants.append((slot, requester[0]))
        ready[requester] = slot


@pytest.mark.django_db
def test_grants_go_round_the_sites_whatever_their_backlog_and_spend_the_rate_that_lasts_the_hour():
    t = FakeTime()
    shared = budget.Budget(store=budget.DatabaseStore(default_quota=3600), headroom=0.0,
                           active_sites=lambda: 10, clock=t.clock)
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=lambda s: None, budget=shared)
    gate.clock_source = t
    # The big tenant runs five jobs at once (five consumers' threads); nine tenants have one each.
    requesters = [("big", n) for n in range(5)] + [(f"small-{n}", 0) for n in range(9)]
    grants = [g for g in simulate_grants(gate, shared, requesters, until=HOUR0 + 600) if g[0] < HOUR0 + 600]
    counts = {site: sum(1 for _, s in grants if s == site) for site in {s for _, s in grants}}
    assert max(counts.values()) - min(counts.values()) <= 1, counts  # one share each, not five for "big"
    ordered = [site for _, site in sorted(grants)]
    for start in range(0, len(ordered) - 10, 10):  # every round serves each of the ten sites once
        assert len(set(ordered[start:start + 10])) == 10
    assert len(grants) <= 600 * 1.0 + 10  # the app spends about 1 point a second: the pool lasts the hour


# --- the pause, the page, the headroom ---------------------------------------------------------------


def sandbox_gate(sandbox, shared):
    return pacing.DatabaseGate(interval=0.15, clock=sandbox.clock.now, sleep=sandbox.clock.advance, budget=shared)


def spend_all_but(shared, points, now):
    """Other tenants of the app spent the pool down to `points` (Atlassian's headers would say so)."""
    shared.store.observe(budget.GLOBAL, budget.hour_of(now), 1000, points)
    shared.forget()


def make_job(site, kind=PushJob.Kind.BULK, violations=None):
    violations = list(violations if violations is not None else site.violations.order_by("rule_id"))
    return jobs.push_job_create(site=site, violations=violations, kind=kind, project_key="ACME", enqueue=None)


def run(job, sandbox, gate, park=None):
    return jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                             violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                             rand=lambda: 0.5, park=park)


def test_a_spent_pool_pauses_bulk_work_until_the_reset_and_fails_nothing(acme, sandbox, one_clock):
    shared = budget.default_budget()  # what the pages read: the same rows
    now = sandbox.clock.now()
    spend_all_but(shared, 20, now)  # 20 left of 1,000: below the 3 % headroom bulk work leaves
    gate = sandbox_gate(sandbox, shared)
    parked = []
    job = make_job(acme)
    run(job, sandbox, gate, park=lambda job_id, seconds: parked.append(seconds))
    job.refresh_from_db()
    reset = (budget.hour_of(now) + 1) * 3600
    assert job.status == PushJob.Status.QUEUED and parked == [pytest.approx(reset - now, abs=1)]
    assert job.wake_at.timestamp() == pytest.approx(reset, abs=1)  # the queue wakes it at the reset
    assert set(job.items.values_list("status", "attempts")) == {(PushJobItem.Status.PENDING, 0)}
    assert sandbox.issues(None) == []
    # Without a queue to park in (a plain loop), the job waits for the reset and pushes everything.
    finished = run(make_job(acme), sandbox, gate)
    assert sandbox.clock.now() >= reset
    assert set(finished.items.values_list("status", flat=True)) == {PushJobItem.Status.PUSHED}


def test_the_site_page_says_paused_by_jira_until_the_reset_and_when_the_job_should_finish(
        client, member_user, acme, sandbox):
    shared = budget.default_budget()
    import time

    now = time.time()
    make_job(acme)
    client.force_login(member_user)
    page = client.get(reverse("jira_site_block", args=[acme.pk])).content.decode()
    assert "Paused by Jira" not in page and "Expected to finish around" in page
    spend_all_but(shared, 5, now)
    page = client.get(reverse("jira_site_block", args=[acme.pk])).content.decode()
    reset = dt.datetime.fromtimestamp((budget.hour_of(now) + 1) * 3600, dt.UTC)
    assert f"Paused by Jira until <time datetime=\"{reset.isoformat()}\"" in page
    assert "Pushing to ACME: 0 of" in page


def test_a_single_push_spends_the_headroom_bulk_work_leaves(acme, sandbox, one_clock):
    shared = budget.default_budget()
    spend_all_but(shared, 20, sandbox.clock.now())
    gate = sandbox_gate(sandbox, shared)
    violation = acme.violations.order_by("rule_id").first()
    job = run(make_job(acme, kind=PushJob.Kind.SINGLE, violations=[violation]), sandbox, gate, park=lambda *a: None)
    assert list(job.items.values_list("status", flat=True)) == [PushJobItem.Status.PUSHED]
    assert len(sandbox.issues(None)) == 1


def test_the_first_global_429_teaches_the_budget_that_the_pool_is_empty(acme, sandbox, one_clock):
    shared = budget.default_budget()
    sandbox.rate_limiter.cfg.global_points_per_hour = 2  # other tenants spent the rest: we did not count it
    gate = sandbox_gate(sandbox, shared)
    job = run(make_job(acme), sandbox, gate, park=lambda *a: None)
    pool = shared.store.pools([budget.GLOBAL], budget.hour_of(sandbox.clock.now()))[budget.GLOBAL]
    assert pool.left == 0  # Atlassian's 429 said so
    assert PushJobItem.Status.FAILED not in set(job.items.values_list("status", flat=True))
    refused = [r for r in sandbox.requests if r.status == 429]
    assert len(refused) == 1  # after the first, the budget holds every bulk call until the reset


def test_the_redis_store_counts_every_consumers_charges_and_takes_the_headers_used_figure():
    import time

    store = budget.RedisStore(url=redis_url(), default_quota=500, prefix=f"allyproof-test:{time.time_ns()}:")
    store.charge([budget.GLOBAL, "site-a"], 7, 3)
    store.charge([budget.GLOBAL, "site-b"], 7, 2)
    assert store.pools([budget.GLOBAL, "site-a"], 7) == {budget.GLOBAL: budget.Pool(500, 5),
                                                         "site-a": budget.Pool(None, 3)}
    store.observe(budget.GLOBAL, 7, 400, 100)  # Jira knows of more traffic than we counted
    assert store.pools([budget.GLOBAL], 7)[budget.GLOBAL] == budget.Pool(400, 300)
    assert store.pools([budget.GLOBAL], 8)[budget.GLOBAL] == budget.Pool(500, 0)  # the next hour starts afresh


def test_the_violation_page_says_paused_for_a_bulk_push_but_a_single_push_waits_only_at_zero(
        client, member_user, acme, sandbox):
    import time

    shared = budget.default_budget()
    violation = acme.violations.order_by("rule_id").first()
    client.force_login(member_user)
    url = reverse("jira_violation_button", args=[acme.pk, violation.pk])
    bulk = make_job(acme)
    spend_all_but(shared, 5, time.time())  # inside the headroom: bulk work waits, a person's push does not
    assert "Paused by Jira until" in client.get(url).content.decode()
    PushJob.objects.filter(pk=bulk.pk).update(status=PushJob.Status.CANCELLED)
    make_job(acme, kind=PushJob.Kind.SINGLE, violations=[violation])
    assert "Paused by Jira" not in client.get(url).content.decode()
    spend_all_but(shared, 0, time.time())
    assert "Paused by Jira until" in client.get(url).content.decode()
