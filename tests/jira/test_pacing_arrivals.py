"""Jira counts arrivals: the gate spaces calls from when they really went, not from the slots it handed out.

A thread that takes a slot and wakes late (a busy CPU, the GIL) must not send closer than the interval
to the call before or after it. Decisions asserted on an injected clock, never measured gaps (the
gaps on the wire are bench/consumers.py's, in docs/benchmarks.md); the one test on Redis's real TIME
asserts a lower bound that a slow machine can only widen.
"""

import time

import pytest

from allyproof.integrations.jira.connection import pacing
from tests.services import redis_url

INTERVAL = 0.15
pytestmark = pytest.mark.django_db  # the database flavour's rows (the Redis flavour ignores them)


@pytest.mark.parametrize(("now", "due", "last_sent", "paused_until", "expected"), [
    (1000.15, 1000.15, 1000.00, 0.0, 1000.15),      # on time, an interval after the last send: goes
    (1000.20, 1000.15, 1000.00, 0.0, 1000.20),      # late: stamped when it really goes, not at its slot
    (1000.00, 1000.15, 1000.00, 0.0, 1000.15),      # an injected clock that sleeping did not move: the slot
    (1000.30, 1000.15, 1000.30, 0.0, None),         # woke after a later slot's call went: a fresh slot
    (1000.40, 1000.15, 1000.30, 0.0, None),         # 100 ms after that call: still too close
    (1000.45, 1000.15, 1000.30, 0.0, 1000.45),      # an interval after it: goes
    (1000.15, 1000.15, 1000.30, 0.0, 1000.15),      # a slot an interval before the latest send (injected clocks)
    (1000.15, 1000.15, 0.0, 1002.0, None),          # a pause stored since the slot was reserved holds it
    (1002.00, 1000.15, 0.0, 1002.0, 1002.00),       # ... until its end
    (1000.15, 1000.15, 1000.0 + 1e-7, 0.0, 1000.15),  # float rounding of summed intervals is not a conflict
    (INTERVAL - pacing.EPSILON, 0.0, 0.0, 0.0, INTERVAL - pacing.EPSILON),  # the allowance's edge itself goes
])
def test_a_call_may_leave_when_no_other_went_within_the_interval_and_no_pause_holds_it(
        now, due, last_sent, paused_until, expected):
    sent = pacing.may_send(now=now, due=due, last_sent=last_sent, interval=INTERVAL, paused_until=paused_until)
    assert sent == (pytest.approx(expected) if expected is not None else None)


class Timeline:
    """One clock for every gate in a test. `late_once` is how far past its wake-up the next sleeper
    resumes; `during_sleep` runs another caller while the next sleeper sleeps."""

    def __init__(self):
        self.now, self.late_once, self.during_sleep = 1_000.0, 0.0, None

    def clock(self):
        return self.now

    def sleep(self, seconds):
        start = self.now
        if self.during_sleep is not None:
            act, self.during_sleep = self.during_sleep, None
            act()
        late, self.late_once = self.late_once, 0.0
        self.now = max(self.now, start + seconds) + late


@pytest.fixture(params=["database", "redis"])
def make_gate(request):
    """A factory of gates of one kind sharing one site's state, on the test's Timeline."""
    if request.param == "database":
        yield lambda t: pacing.DatabaseGate(interval=INTERVAL, clock=t.clock, sleep=t.sleep)
        return
    url, prefix = redis_url(), f"allyproof-test:arrivals:{time.time_ns()}:"
    gates = []

    def make(t):
        gates.append(pacing.RedisGate(url=url, interval=INTERVAL, prefix=prefix, clock=t.clock, sleep=t.sleep))
        return gates[-1]

    yield make
    for key in gates[0].redis.scan_iter(f"{prefix}*") if gates else []:
        gates[0].redis.delete(key)


def gaps(sent):
    ordered = sorted(sent)
    return [round(b - a, 6) for a, b in zip(ordered, ordered[1:])]


def test_a_call_that_went_late_moves_the_next_slot_to_an_interval_after_it(make_gate):
    t = Timeline()
    gate, sent = make_gate(t), []
    for late in (0.0, 0.05, 0.0):  # the second call's thread resumes 50 ms after its slot
        t.late_once = late
        gate.wait("site-a")
        sent.append(t.now)  # the call leaves when wait returns
    assert sent == pytest.approx([1000.0, 1000.20, 1000.35])  # not 1000.30: 100 ms after a real send
    assert min(gaps(sent)) >= INTERVAL


def test_a_caller_that_wakes_after_a_later_slot_went_takes_a_fresh_slot(make_gate):
    """Two workers: A reserves the next slot and sleeps; B reserves the one after and sends on time;
    A's thread resumes only then. A must not send in the same instant as B."""
    t = Timeline()
    worker_a, worker_b, sent = make_gate(t), make_gate(t), []
    worker_a.wait("site-a")
    sent.append(t.now)

    def b_sends():
        worker_b.wait("site-a")
        sent.append(t.now)

    t.during_sleep = b_sends  # B sleeps to its slot (1000.30) inside A's sleep; A resumes at 1000.30
    worker_a.wait("site-a")
    sent.append(t.now)
    assert sent == pytest.approx([1000.0, 1000.30, 1000.45])
    assert min(gaps(sent)) >= INTERVAL


def test_callers_that_all_resume_at_once_still_leave_an_interval_apart(make_gate):
    """Four workers each reserve a slot while the one before sleeps, and none resumes before the last
    one's slot plus 60 ms (a CPU that ran none of them in time). What goes out stays an interval apart,
    and every call goes exactly once."""
    t = Timeline()
    gates, sent = [make_gate(t) for _ in range(5)], []
    gates[0].wait("site-a")
    sent.append(t.now)

    def call(i):
        t.during_sleep = (lambda: call(i + 1)) if i + 1 < len(gates) else None
        t.late_once = 0.06 if i + 1 == len(gates) else 0.0
        gates[i].wait("site-a")
        sent.append(t.now)

    call(1)
    assert len(sent) == 5 and min(gaps(sent)) >= INTERVAL, gaps(sent)
    assert sent[1] == pytest.approx(1000.66)  # the last slot's caller, 60 ms late, went first


def test_without_an_injected_clock_the_redis_gate_stamps_redis_time_when_it_confirms():
    """In production the stamp is Redis's TIME read inside the confirming script, not the slot: a caller
    whose sleep overran by 50 ms is stamped at least 50 ms after its slot (time.sleep never returns early)."""
    url, prefix = redis_url(), f"allyproof-test:arrivals-time:{time.time_ns()}:"
    gate = pacing.RedisGate(url=url, interval=INTERVAL, prefix=prefix, sleep=lambda s: time.sleep(s + 0.05))
    try:
        gate.wait("site-a")
        first = int(gate.redis.get(f"{prefix}sent:site-a"))
        gate.wait("site-a")  # its slot is first + 150 ms; it wakes at least 50 ms after it
        second = int(gate.redis.get(f"{prefix}sent:site-a"))
        assert second - first >= 200
        assert int(gate.redis.get(f"{prefix}next:site-a")) == second + 150  # the next slot counts from it
    finally:
        for key in gate.redis.scan_iter(f"{prefix}*"):
            gate.redis.delete(key)


@pytest.mark.parametrize("at_read", [1, 2, 3, 4])
def test_another_workers_whole_call_inside_this_ones_leaves_them_an_interval_apart(at_read):
    """Worker B's whole call runs when worker A's gate reads its clock for the `at_read`-th time (the
    four reads of a first call: two to reserve, one for the slot, one for the stamp, which lies between
    the database gate's read of the row and its update). Wherever it lands, the two sends are an interval
    apart: B's stamp stored after A's read must fail A's update (compare-and-set) and be decided against."""
    t = Timeline()
    sent, reads = [], [0]
    worker_b = pacing.DatabaseGate(interval=INTERVAL, clock=t.clock, sleep=t.sleep)

    def a_clock():
        reads[0] += 1
        if reads[0] == at_read:
            worker_b.wait("site-a")
            sent.append(t.now)
        return t.now

    worker_a = pacing.DatabaseGate(interval=INTERVAL, clock=a_clock, sleep=t.sleep)
    worker_a.wait("site-a")
    sent.append(t.now)
    assert len(sent) == 2 and min(gaps(sent)) >= INTERVAL, sent  # B ran, and the sends are apart
