"""The pacing gate, database and Redis flavours: slots 150 ms apart per site, pauses by scope."""

import threading
import time

import pytest

from allyproof.integrations.jira import pacing
from allyproof.integrations.jira.models import PacingGate
from tests.services import redis_url


class FakeTime:
    def __init__(self):
        self.now = 1_000.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.mark.django_db
def test_database_gate_spaces_calls_to_one_site():
    t = FakeTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        gate.wait("site-a")
    assert t.slept == [0.15, 0.15, 0.15]
    gate.wait("site-b")  # another site has its own pace
    assert t.slept == [0.15, 0.15, 0.15]


@pytest.mark.django_db
@pytest.mark.parametrize(("reason", "pauses_other_site"), [
    ("jira-quota-global-based", True), ("jira-quota-tenant-based", False), ("jira-burst-based", False)])
def test_database_gate_pauses_by_scope(reason, pauses_other_site):
    t = FakeTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    gate.pause("site-a", 30, reason)
    gate.wait("site-b")
    assert t.slept == ([30.0] if pauses_other_site else [])
    gate.wait("site-a")
    assert sum(t.slept) == pytest.approx(30.0)
    assert PacingGate.objects.filter(pause_reason=reason).count() == 1


@pytest.mark.django_db
def test_a_request_does_not_wait_long():
    t = FakeTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    gate.pause("site-a", 10, "jira-burst-based")
    with pytest.raises(pacing.GateBusy):
        gate.wait("site-a", max_wait=2.0)


@pytest.fixture
def redis_gate():
    url = redis_url()
    gate = pacing.RedisGate(url=url, interval=0.15, prefix=f"allyproof-test:{time.time_ns()}:")
    yield gate
    for key in gate.redis.scan_iter(f"{gate.prefix}*"):
        gate.redis.delete(key)


def test_redis_gate_grants_concurrent_callers_distinct_slots_an_interval_apart(redis_gate):
    """Three threads ask fifteen times at one instant of the gate's clock: every slot is its own,
    each 150 ms after the one before (what each caller is told to wait, not when it woke up)."""
    redis_gate.clock = lambda: 1_000.0
    told, lock = [], threading.Lock()

    def record(seconds):
        with lock:
            told.append(seconds)

    redis_gate.sleep = record
    threads = [threading.Thread(target=lambda: [redis_gate.wait("site-a") for _ in range(5)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The first caller goes at once (no wait); the other fourteen are told 0.15, 0.30, … 2.10 s.
    assert sorted(told) == pytest.approx([0.15 * i for i in range(1, 15)])
    redis_gate.wait("site-b")  # another site has its own pace
    assert len(told) == 14


@pytest.mark.parametrize(("reason", "pauses_other_site"), [
    ("jira-quota-global-based", True), ("jira-quota-tenant-based", False), ("jira-burst-based", False)])
def test_redis_gate_pauses_by_scope(redis_gate, reason, pauses_other_site):
    now, told = [1_000.0], []
    redis_gate.clock, redis_gate.sleep = (lambda: now[0]), told.append
    redis_gate.pause("site-a", 5, reason)
    redis_gate.wait("site-b")
    assert told == ([5.0] if pauses_other_site else [])
    told.clear()
    redis_gate.wait("site-a")
    assert told == [5.0]  # the paused site waits out the pause either way
    with pytest.raises(pacing.GateBusy):
        redis_gate.wait("site-a", max_wait=1.0)  # a person is not kept waiting for it
    now[0] += 10
    told.clear()
    redis_gate.wait("site-c")
    assert told == []  # the pause is over
