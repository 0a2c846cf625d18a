"""The pacing gate, database and Redis flavours: slots 150 ms apart per site, pauses by scope."""

import threading
import time

import pytest

from allyproof.integrations.jira.connection import pacing
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
    assert t.slept == [30.0]  # one sleep to the pause's end, never slot after refused slot
    assert PacingGate.objects.filter(pause_reason=reason).count() == 1


@pytest.mark.django_db
def test_a_request_does_not_wait_long():
    t = FakeTime()
    gate = pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep)
    gate.pause("site-a", 10, "jira-burst-based")
    with pytest.raises(pacing.GateBusy, match=r"^Jira is being paced; the next slot is in 10\.0 s$"):
        gate.wait("site-a", max_wait=2.0)


@pytest.mark.django_db
def test_a_request_waits_up_to_max_wait_itself():
    """A wait of exactly max_wait is allowed (0.25 s is exact in binary, so the comparison is too)."""
    t = FakeTime()
    gate = pacing.DatabaseGate(interval=0.25, clock=t.clock, sleep=t.sleep)
    gate.wait("site-a")
    gate.wait("site-a", max_wait=0.25)
    gate.wait("site-a", max_wait=0.3)
    assert t.slept == [0.25, 0.25]
    with pytest.raises(pacing.GateBusy):
        gate.wait("site-a", max_wait=0.2)


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


class RedisAt:
    """The real Redis client, except that its TIME answers a fixed instant (seconds, microseconds)."""

    def __init__(self, real, seconds: int, micros: int):
        self._real, self._time = real, (seconds, micros)

    def time(self):
        return self._time

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_redis_gate_reads_one_clock_for_every_machine_redis_time(redis_gate):
    """A gate without an injected clock reads Redis's TIME; a pause it stores is in the same milliseconds
    another gate reads, to the millisecond."""
    redis_gate.redis = RedisAt(redis_gate.redis, 1_700_000_000, 987_654)
    redis_gate.clock = None
    redis_gate.pause("site-a", 5, "jira-burst-based")
    reader = pacing.RedisGate(url=redis_url(), interval=0.15, prefix=redis_gate.prefix,
                              clock=lambda: 1_700_000_000.987)
    told = []
    reader.sleep = told.append
    reader.wait("site-a")
    assert told == [5.0]


def test_redis_gate_slots_and_the_waiting_limit_on_its_injected_clock(redis_gate):
    now, told = [1_000.0], []

    def sleep(seconds):
        told.append(seconds)
        now[0] += seconds

    gate = pacing.RedisGate(url=redis_url(), interval=2.0, prefix=redis_gate.prefix, clock=lambda: now[0],
                            sleep=sleep)
    gate.wait("site-a")
    gate.wait("site-a")
    assert told == [2.0]  # the interval, to the millisecond
    gate.wait("site-a", max_wait=2.0)  # exactly the limit: still goes
    assert told == [2.0, 2.0]
    gate.pause("site-b", 2.001, "jira-burst-based")
    with pytest.raises(pacing.GateBusy):  # a millisecond over the limit
        gate.wait("site-b", max_wait=2.0)
    gate.pause("site-c", 0.001, "jira-burst-based")
    gate.wait("site-c")  # one millisecond is still a wait
    assert told == [2.0, 2.0, 0.001]


def test_redis_gate_says_how_far_the_next_slot_is(redis_gate):
    redis_gate.clock, redis_gate.sleep = (lambda: 1_000.0), (lambda seconds: None)
    redis_gate.pause("site-a", 100, "jira-burst-based")
    with pytest.raises(pacing.GateBusy, match=r"the next slot is in 100\.0 s$"):
        redis_gate.wait("site-a", max_wait=1.0)


@pytest.mark.django_db
@pytest.mark.parametrize("flavour", ["database", "redis"])
def test_every_wait_counts_against_the_limit(flavour):
    """Pauses stored while a caller sleeps send it round again; all its waits add up against max_wait: three
    rounds (1.0 + 1.0 + 1.5 s) against 3 s (counting only the last round's wait would let the caller go)."""
    now, told = [1_000.0], []
    if flavour == "database":
        gate, other = (pacing.DatabaseGate(interval=0.5, clock=lambda: now[0]) for _ in range(2))
    else:
        prefix = f"allyproof-test:{time.time_ns()}:"
        gate, other = (pacing.RedisGate(url=redis_url(), interval=0.5, prefix=prefix, clock=lambda: now[0])
                       for _ in range(2))
    more = [1.0, 1.5]  # what another worker's 429s add while this caller sleeps

    def sleep(seconds):
        told.append(seconds)
        now[0] += seconds
        if more:
            other.pause("site-a", more.pop(0), "jira-burst-based")

    gate.sleep = sleep
    other.pause("site-a", 1.0, "jira-burst-based")
    try:
        with pytest.raises(pacing.GateBusy):
            gate.wait("site-a", max_wait=3.0)
        assert told == [1.0, 1.0]
    finally:
        if flavour == "redis":
            for key in gate.redis.scan_iter(f"{prefix}*"):
                gate.redis.delete(key)


@pytest.mark.django_db
def test_on_a_clock_that_sleeping_does_not_move_each_call_is_stamped_at_its_slot():
    """An injected clock a sleep does not move (a frozen test clock): the send stamp is the slot, so the next
    call is an interval after it and nothing goes round refusing itself (that would sleep without end)."""
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        assert len(slept) < 10, "the gate keeps refusing its own slots"

    gate = pacing.DatabaseGate(interval=0.15, clock=lambda: 1_000.0, sleep=sleep)
    for _ in range(3):
        gate.wait("site-a")
    assert slept == [0.15, 0.3]
    assert PacingGate.objects.get(key="site-a").last_sent == pytest.approx(1_000.3)


def test_a_redis_pause_key_outlives_its_pause_by_a_second_and_no_more(redis_gate):
    """The pause must hold to its end everywhere (the key may not expire early) and must not pile up
    keys in Redis for every site ever paused."""
    redis_gate.pause("site-a", 100, "jira-burst-based")
    left = redis_gate.redis.pttl(f"{redis_gate.prefix}pause:site-a")
    assert 100_000 < left <= 101_000


def test_a_429_with_neither_retry_after_nor_a_reset_pauses_for_the_first_backoff():
    """pause_for without either header (mutation testing: `reset_in = ""` raised TypeError here)."""
    from types import SimpleNamespace

    from allyproof.integrations.jira.connection import pacing as gate_module
    from tests.jira.conftest import NoGate

    gate = NoGate()
    gate_module.pause_for(gate, "site-a", SimpleNamespace(retry_after=None, reset_at=None, reason="jira-burst-based"))
    assert gate.pauses == [("site-a", gate_module.DEFAULT_PAUSE, "jira-burst-based")]


@pytest.fixture(params=["database", "redis"])
def gate_of(request):
    """Builds a gate of each flavour on the test's FakeTime (Redis: its own key prefix, removed after)."""
    made = []

    def make(t, budget=None):
        if request.param == "database":
            return pacing.DatabaseGate(interval=0.15, clock=t.clock, sleep=t.sleep, budget=budget)
        made.append(pacing.RedisGate(url=redis_url(), interval=0.15, prefix=f"allyproof-test:{time.time_ns()}:",
                                     clock=t.clock, sleep=t.sleep, budget=budget))
        return made[-1]

    yield make
    for gate in made:
        for key in gate.redis.scan_iter(f"{gate.prefix}*"):
            gate.redis.delete(key)


class FixedBudget:
    """A points budget that answers fixed decisions per site and records what it was asked (site, now)."""

    def __init__(self, decisions):
        self.decisions, self.asked = decisions, []

    def decide(self, site, *, now):
        from allyproof.integrations.jira.connection import budget

        self.asked.append((site, now))
        return self.decisions.get(site, budget.Decision())


@pytest.mark.django_db
def test_peek_says_how_far_the_next_slot_is_without_taking_it(gate_of):
    """A job parks when its next slot is far (`peek`): no row yet is a slot now; a taken slot, a site pause and a
    global pause each push it out; peeking takes nothing (mutation testing: `peek` had no test of its own,
    and reading no row, the wrong row or no clock went unseen; the Redis gate's had no test at all)."""
    t = FakeTime()
    gate = gate_of(t)
    assert gate.peek("site-a") == 0.0  # no row at all yet
    gate.wait("site-a")
    assert gate.peek("site-a") == pytest.approx(0.15, abs=1e-9)
    assert gate.peek("site-a") == pytest.approx(0.15, abs=1e-9)  # the first peek took no slot
    gate.pause("site-a", 30, "jira-burst-based")
    assert gate.peek("site-a") == pytest.approx(30, abs=1e-9) and gate.peek("site-b") == 0.0
    gate.pause("site-b", 60, "jira-quota-global-based")
    assert gate.peek("site-a") == pytest.approx(60, abs=1e-9) and gate.peek("site-b") == pytest.approx(60, abs=1e-9)
    assert t.slept == []


@pytest.mark.django_db
def test_peek_counts_the_budget_and_the_bulk_spacing(gate_of):
    """With a points budget: a site the budget blocks peeks to the end of the block, and in the bulk lane the
    bulk spacing (wider than the interval) counts, outside it not (mutation testing: `peek` asking the
    budget about no site or no time, or leaving out the block or the bulk spacing, went unseen)."""
    from allyproof.integrations.jira.connection import budget

    t = FakeTime()
    fixed = FixedBudget({"blocked": budget.Decision(blocked_until=t.now + 45), "bulk": budget.Decision(spacing=2.0)})
    gate = gate_of(t, budget=fixed)
    assert gate.peek("blocked") == pytest.approx(45, abs=1e-9)
    assert fixed.asked == [("blocked", t.now)]
    with budget.lane(budget.BULK):
        gate.wait("bulk")
        assert gate.peek("bulk") == pytest.approx(2.0, abs=1e-9)
        fixed.decisions["bulk"] = budget.Decision(spacing=0.0)  # the budget relaxed: the slot taken still holds
        assert gate.peek("bulk") == pytest.approx(2.0, abs=1e-9)
        fixed.decisions["bulk"] = budget.Decision(spacing=2.0)
    assert gate.peek("bulk") == pytest.approx(0.15, abs=1e-9)  # a single push is held by the interval only
    gate.wait("bulk")  # and takes its slot an interval after the bulk call, not after the bulk spacing
    assert t.slept == [0.15]


@pytest.mark.django_db
def test_the_default_gate_paces_by_the_configured_milliseconds(settings):
    """JIRA_PUSH_INTERVAL_MS is milliseconds: 150 spaces calls 0.15 s apart, in the database gate and in Redis's,
    each with the points budget (mutation testing: with the tests' interval of 0, any conversion of it went
    unseen, and the Redis branch had no test)."""
    settings.CONFIG = settings.CONFIG.replace(jira_push_interval_ms=150, redis_url="")
    gate = pacing.default_gate()
    assert isinstance(gate, pacing.DatabaseGate) and gate.interval == 0.15
    assert gate.budget is not None  # the points budget spaces bulk calls
    url = redis_url()
    settings.CONFIG = settings.CONFIG.replace(redis_url=url)
    gate = pacing.default_gate()
    assert isinstance(gate, pacing.RedisGate) and gate.interval == 0.15 and gate.budget is not None
    assert gate.redis.connection_pool.connection_kwargs["db"] == int(url.rsplit("/", 1)[1])  # the configured Redis


@pytest.mark.django_db
def test_paused_until_is_the_later_of_the_site_and_the_global_pause(gate_of):
    """What the job page shows as "paused until" (`budget_status`): 0 with no row, the site's own pause, a later
    global one, and never another site's (mutation testing: `paused_until` had no test in the selection)."""
    t = FakeTime()
    gate = gate_of(t)
    assert gate.paused_until("site-a") == 0.0
    gate.pause("site-b", 90, "jira-burst-based")
    gate.pause("site-a", 30, "jira-burst-based")
    assert gate.paused_until("site-a") == t.now + 30
    gate.pause("site-a", 60, "jira-quota-global-based")
    assert gate.paused_until("site-a") == t.now + 60
