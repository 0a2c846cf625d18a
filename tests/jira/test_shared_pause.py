"""Case 4 of issue 8: a pause from a 429 holds every worker, including a slot reserved before it.
Decisions asserted on the injected clock, never measured gaps."""

import time

import pytest

from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.connection.errors import JiraRateLimited
from tests.services import redis_url


class SharedTime:
    """One timeline for two workers; `during_sleep` lets the other worker act while this one sleeps."""

    def __init__(self):
        self.now, self.during_sleep, self.sent = 1_000.0, None, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        if self.during_sleep is not None:
            act, self.during_sleep = self.during_sleep, None
            self.now += 0.01
            act()
            seconds -= 0.01
        self.now += max(0.0, seconds)


def limited(retry_after, reason="jira-tenant-based"):
    return JiraRateLimited("429", reason=reason, retry_after=retry_after, reset_at=None)


@pytest.mark.django_db
@pytest.mark.parametrize(("reason", "scope_site"), [("jira-quota-tenant-based", "site-a"), ("jira-burst-based", "site-a"),
                                                    ("jira-per-issue-on-write", "site-a"),
                                                    ("jira-quota-global-based", "another-site")])
def test_a_slot_reserved_before_a_pause_waits_for_its_end(reason, scope_site):
    t = SharedTime()
    worker_a = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    worker_b = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    worker_b.wait("site-a")  # B's slot now: its create goes out and gets a 429
    # A reserves the next slot (0.15 s later) and sleeps; meanwhile B's 429 with Retry-After: 2 arrives.
    t.during_sleep = lambda: pacing.pause_for(worker_b, scope_site, limited(2, reason))
    paused_at = t.now + 0.01
    worker_a.wait("site-a")  # a global pause from another site holds it too
    assert t.now >= paused_at + 2  # the already-reserved slot did not go out 0.16 s later


@pytest.mark.django_db
def test_pause_lengths_retry_after_then_reset_then_atlassians_first_backoff():
    assert pacing.pause_seconds(retry_after=7, reset_in=100) == 7
    assert pacing.pause_seconds(retry_after=None, reset_in=30) == 30
    assert pacing.pause_seconds(retry_after=None, reset_in=-3) == pacing.DEFAULT_PAUSE
    assert pacing.pause_seconds(retry_after=None, reset_in=None) == 2.0
    assert pacing.pause_seconds(retry_after=0, reset_in=None) == 0
    # A reset under a second away is waited for as it is; one due now is no pause at all, so the first
    # backoff applies (mutation testing: `> 1` and `>= 0` on the reset went unseen).
    assert pacing.pause_seconds(retry_after=None, reset_in=0.5) == 0.5
    assert pacing.pause_seconds(retry_after=None, reset_in=0) == pacing.DEFAULT_PAUSE


def test_redis_gate_holds_a_slot_reserved_before_the_pause():
    url = redis_url()
    prefix = f"allyproof-test:pause:{time.time_ns()}:"  # its own keys: concurrent runs must not share a pause
    gates = [pacing.RedisGate(url=url, interval=0.15, prefix=prefix) for _ in range(2)]
    worker_a, worker_b = gates
    worker_b.wait("site-a")
    slept = []

    def sleep(seconds):  # Redis keeps real time; record what A was told to wait
        slept.append(seconds)
        if len(slept) == 1:
            pacing.pause_for(worker_b, "site-a", limited(2))

    worker_a.sleep = sleep
    worker_a.wait("site-a")
    assert len(slept) == 2 and slept[1] >= 1.5  # woke, saw the pause, waited for its end
    for key in worker_a.redis.scan_iter(f"{prefix}*"):
        worker_a.redis.delete(key)


@pytest.mark.django_db
def test_a_long_unknown_reason_is_stored_cut_to_its_column():
    from allyproof.integrations.jira.models import PacingGate

    t = SharedTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    gate.pause("site-a", 3, "x" * 100)  # RateLimit-Reason is Atlassian's text: never trust its length
    stored = PacingGate.objects.get(key="site-a")
    assert stored.pause_reason == "x" * 60 and stored.paused_until == t.now + 3
    gate.pause("site-a", 1, "jira-burst-based")  # a shorter pause never shortens a longer one
    assert PacingGate.objects.get(key="site-a").paused_until == t.now + 3


@pytest.mark.django_db
def test_a_global_quota_429_without_retry_after_pauses_until_its_reset():
    import datetime as dt

    from allyproof.core import clock
    from allyproof.integrations.jira.models import PacingGate

    t = SharedTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    quota = JiraRateLimited("429", reason="jira-quota-global-based", retry_after=None,
                            reset_at=now + dt.timedelta(minutes=30))  # X-RateLimit-Reset: the top of the hour
    with clock.frozen(now):
        pacing.pause_for(gate, "site-a", quota)
    assert PacingGate.objects.get(key=pacing.GLOBAL).paused_until == t.now + 1800


@pytest.mark.django_db
def test_retry_after_wins_over_the_quota_reset_when_jira_sends_both():
    import datetime as dt

    from allyproof.core import clock
    from allyproof.integrations.jira.models import PacingGate

    t = SharedTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    quota = JiraRateLimited("429", reason="jira-quota-global-based", retry_after=7,
                            reset_at=now + dt.timedelta(minutes=30))
    with clock.frozen(now):
        pacing.pause_for(gate, "site-a", quota)
    assert PacingGate.objects.get(key=pacing.GLOBAL).paused_until == t.now + 7
