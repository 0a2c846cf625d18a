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


def test_redis_gate_spaces_concurrent_callers(redis_gate):
    stamps, lock = [], threading.Lock()

    def caller():
        for _ in range(5):
            redis_gate.wait("site-a")
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(stamps) == 15
    # Stamps are taken after each wait returns, so thread scheduling adds jitter to single gaps;
    # the spacing itself shows in the span and the median, and three threads never burst.
    assert sum(gaps) >= 14 * 0.15 - 0.05
    assert sorted(gaps)[7] >= 0.145 and min(gaps) >= 0.05


def test_redis_gate_global_pause_holds_every_site(redis_gate):
    slept = []
    redis_gate.sleep = slept.append
    redis_gate.pause("site-a", 5, "jira-quota-global-based")
    redis_gate.wait("site-b")
    assert slept and 4.5 <= slept[0] <= 5.0
    with pytest.raises(pacing.GateBusy):
        redis_gate.wait("site-c", max_wait=1.0)
