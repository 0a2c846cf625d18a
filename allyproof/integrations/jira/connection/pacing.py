"""The per-site pacing gate, shared by every process that calls one Jira site.

Calls to one site are spaced `JIRA_PUSH_INTERVAL_MS` apart (Atlassian asks apps to design for the
steady refill rate of the burst bucket, not the burst). A 429 pauses the right scope: the global
quota pauses every site, a tenant quota or burst limit pauses that site. Two implementations share
one protocol: a database row per site (the embedded default) and Redis (production).

Jira counts arrivals, not the slots we hand out: a thread that takes a slot and then runs late (a busy
CPU, the GIL) would send closer to the next slot's call than the interval. So a call takes a slot, sleeps
to it, and then confirms right before it is sent (`may_send`): the gate stamps the real send time, a call
that finds another one sent within the interval of its own takes a fresh slot, and the next slot is never
earlier than the last real send plus the interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from allyproof.integrations.jira.models import PacingGate

GLOBAL = "global"


class GateBusy(Exception):
    """The next slot is further away than the caller is willing to wait (a request, not a job)."""


class Gate(Protocol):
    def wait(self, site: str, max_wait: float | None = None) -> None: ...

    def pause(self, site: str, seconds: float, reason: str) -> None: ...


def pause_scope(reason: str) -> str:
    """Which key a 429 pauses: the app's global pool or just this site."""
    return GLOBAL if reason == "jira-quota-global-based" else "site"


DEFAULT_PAUSE = 2.0  # Atlassian: without Retry-After, start backing off at about 2 s


def pause_seconds(*, retry_after: float | None, reset_in: float | None) -> float:
    """How long a 429 pauses its scope: Retry-After, else the quota's reset, else Atlassian's first backoff."""
    if retry_after is not None:
        return retry_after
    if reset_in is not None and reset_in > 0:
        return reset_in
    return DEFAULT_PAUSE


def pause_for(gate: Gate, site: str, limited) -> None:
    """Stores the pause a 429 asks for where every worker's gate reads it (called by the client)."""
    reset_in = None
    if limited.reset_at is not None:
        from allyproof.core import clock

        reset_in = (limited.reset_at - clock.now()).total_seconds()
    gate.pause(site, pause_seconds(retry_after=limited.retry_after, reset_in=reset_in), limited.reason)


# Slots are sums of float intervals; a millionth of a second absorbs their rounding (Redis counts whole ms).
EPSILON = 1e-6


def may_send(*, now: float, due: float, last_sent: float, interval: float, paused_until: float) -> float | None:
    """The send stamp of a call whose slot was `due`, or None when it must take a fresh slot instead.

    The stamp is the later of now and the slot (on an injected clock a caller's sleep may not move it).
    Refused: a pause stored since the slot was reserved holds it; another call's stamp within the interval
    (it went while this one ran late). With a real clock stamps only grow, so comparing with the latest
    (`last_sent`) is comparing with every earlier one."""
    sent = max(now, due)
    if paused_until > sent or abs(sent - last_sent) < interval - EPSILON:
        return None
    return sent


class DatabaseGate:
    """`budget` (budget.Budget) adds the points budget: bulk calls keep their fair-share spacing
    (`bulk_next`) and wait while the budget is spent; without it, per-site pacing and pauses only."""

    def __init__(self, *, interval: float, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, budget=None):
        self.interval, self.clock, self.sleep, self.budget = interval, clock, sleep, budget

    def _decision(self, site: str, now: float):
        from allyproof.integrations.jira.connection import budget

        if self.budget is None:
            return budget.Decision(), budget.current_lane() == budget.BULK
        return self.budget.decide(site, now=now), budget.current_lane() == budget.BULK

    def _reserve(self, site: str) -> float:
        """Takes the next slot for `site` and returns how long to wait for it."""
        now = self.clock()
        decision, bulk = self._decision(site, now)
        with transaction.atomic():
            PacingGate.objects.get_or_create(key=site)
            PacingGate.objects.get_or_create(key=GLOBAL)
            rows = {g.key: g for g in PacingGate.objects.select_for_update().filter(key__in=[site, GLOBAL])}
            now = self.clock()
            gate, global_ = rows[site], rows[GLOBAL]
            slot = max(now, gate.next_slot, gate.paused_until, global_.paused_until, decision.blocked_until or 0.0,
                       gate.bulk_next if bulk else 0.0)
            gate.next_slot = slot + self.interval
            if bulk:
                gate.bulk_next = slot + max(self.interval, decision.spacing)
            gate.save(update_fields=["next_slot", "bulk_next"])
        return slot - now

    def peek(self, site: str) -> float:
        """Seconds until `site` could have its next slot, without taking it (a job parks when long)."""
        now = self.clock()
        decision, bulk = self._decision(site, now)
        rows = {g.key: g for g in PacingGate.objects.filter(key__in=[site, GLOBAL])}
        gate, global_ = rows.get(site, PacingGate(key=site)), rows.get(GLOBAL, PacingGate(key=GLOBAL))
        slot = max(now, gate.next_slot, gate.paused_until, global_.paused_until, decision.blocked_until or 0.0,
                   gate.bulk_next if bulk else 0.0)
        return slot - now

    def wait(self, site: str, max_wait: float | None = None) -> None:
        waited = 0.0
        while True:
            delay = self._reserve(site)
            if max_wait is not None and waited + delay > max_wait:
                raise GateBusy(f"Jira is being paced; the next slot is in {delay:.1f} s")
            due = self.clock() + delay
            if delay > 0:
                self.sleep(delay)
                waited += delay
            if self._confirm(site, due):  # else a pause or a late caller's send since: a fresh slot
                return

    def _confirm(self, site: str, due: float) -> bool:
        """Stamps this call's send time on the site's row (`may_send`), right before it is sent: one read
        and one update that holds only if no other call was stamped in between (compare-and-set on
        last_sent), so no lock or transaction lies between the stamp and the send."""
        while True:
            rows = {key: (last, paused) for key, last, paused in
                    PacingGate.objects.filter(key__in=[site, GLOBAL]).values_list("key", "last_sent", "paused_until")}
            last_sent, paused = rows[site]  # _reserve made the row
            # A pause stored after this read is too late for this call, as one stored just after its send would be.
            sent = may_send(now=self.clock(), due=due, last_sent=last_sent, interval=self.interval,
                            paused_until=max(paused, rows.get(GLOBAL, (0.0, 0.0))[1]))
            if sent is None:
                return False
            if PacingGate.objects.filter(key=site, last_sent=last_sent).update(
                    last_sent=max(last_sent, sent), next_slot=Greatest(F("next_slot"), Value(sent + self.interval))):
                return True
            # Another call was stamped between the read and the update: decide again against its stamp.

    def paused_until(self, site: str) -> float:
        return max(PacingGate.objects.filter(key__in=[site, GLOBAL]).values_list("paused_until", flat=True),
                   default=0.0)

    def pause(self, site: str, seconds: float, reason: str) -> None:
        key = GLOBAL if pause_scope(reason) == GLOBAL else site
        until = self.clock() + seconds
        with transaction.atomic():
            PacingGate.objects.get_or_create(key=key)
            gate = PacingGate.objects.select_for_update().get(key=key)
            if until > gate.paused_until:
                gate.paused_until, gate.pause_reason = until, reason[:60]
                gate.save(update_fields=["paused_until", "pause_reason"])


# Reserve the next slot atomically in Redis: returns the wait in milliseconds. KEYS: next, pause (site),
# pause (global), bulk next; ARGV: now, interval, blocked until (0: not blocked), bulk spacing (-1: not bulk).
_RESERVE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local spacing = tonumber(ARGV[4])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or 0), tonumber(ARGV[3]),
                      tonumber(redis.call('GET', KEYS[2]) or 0), tonumber(redis.call('GET', KEYS[3]) or 0))
if spacing >= 0 then
  slot = math.max(slot, tonumber(redis.call('GET', KEYS[4]) or 0))
  local gap = math.max(interval, spacing)
  redis.call('SET', KEYS[4], slot + gap, 'PX', math.max(60000, gap * 10))
end
redis.call('SET', KEYS[1], slot + interval, 'PX', math.max(60000, interval * 10))
return slot - now
"""

# Confirm a slot right before the send (`may_send`, in milliseconds): 1 = send, 0 = take a fresh slot.
# KEYS: last send, next, pause (site), pause (global); ARGV: now (-1: Redis's TIME, read in the script so
# that no round trip lies between the stamp and the send), the slot, interval.
_CONFIRM = """
local now, due, interval = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local sent = math.max(now, due)
local last = tonumber(redis.call('GET', KEYS[1]) or 0)
local paused = math.max(tonumber(redis.call('GET', KEYS[3]) or 0), tonumber(redis.call('GET', KEYS[4]) or 0))
if paused > sent or math.abs(sent - last) < interval then
  return 0
end
local ttl = math.max(60000, interval * 10)
redis.call('SET', KEYS[1], math.max(last, sent), 'PX', ttl)
if sent + interval > tonumber(redis.call('GET', KEYS[2]) or 0) then
  redis.call('SET', KEYS[2], sent + interval, 'PX', ttl)
end
return 1
"""


class RedisGate:
    def __init__(self, *, url: str, interval: float, prefix: str = "allyproof:pacing:",
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] | None = None,
                 budget=None):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.interval, self.prefix, self.sleep, self.budget = interval, prefix, sleep, budget
        self.clock = clock  # tests inject one (seconds); by default every machine reads Redis's
        self._reserve = self.redis.register_script(_RESERVE)
        self._confirm = self.redis.register_script(_CONFIRM)

    def _now_ms(self) -> int:
        if self.clock is not None:
            return round(self.clock() * 1000)  # whole ms, as Redis TIME gives them (no float truncation)
        seconds, micros = self.redis.time()  # one clock for every machine: Redis's
        return seconds * 1000 + micros // 1000

    def _keys(self, site: str) -> list[str]:
        return [f"{self.prefix}next:{site}", f"{self.prefix}pause:{site}", f"{self.prefix}pause:{GLOBAL}",
                f"{self.prefix}bulk:{site}"]

    def _budget_args(self, site: str, now_ms: int) -> tuple[int, int]:
        """(blocked until ms, bulk spacing ms or -1 when this call is not bulk work)."""
        from allyproof.integrations.jira.connection import budget

        bulk = budget.current_lane() == budget.BULK
        if self.budget is None:
            return 0, (0 if bulk else -1)
        decision = self.budget.decide(site, now=now_ms / 1000)
        blocked = int(decision.blocked_until * 1000) if decision.blocked_until else 0
        return blocked, (int(decision.spacing * 1000) if bulk else -1)

    def wait(self, site: str, max_wait: float | None = None) -> None:
        keys = self._keys(site)
        waited_ms = 0
        while True:
            now_ms = self._now_ms()
            blocked, spacing = self._budget_args(site, now_ms)
            delay_ms = int(self._reserve(keys=keys, args=[now_ms, int(self.interval * 1000), blocked, spacing]))
            if max_wait is not None and waited_ms + delay_ms > max_wait * 1000:
                raise GateBusy(f"Jira is being paced; the next slot is in {delay_ms / 1000:.1f} s")
            if delay_ms > 0:
                self.sleep(delay_ms / 1000)
                waited_ms += delay_ms
            confirm_keys = [f"{self.prefix}sent:{site}", *keys[:3]]  # else a pause or a late send since: a fresh slot
            now_arg = -1 if self.clock is None else self._now_ms()
            if self._confirm(keys=confirm_keys, args=[now_arg, now_ms + delay_ms, int(self.interval * 1000)]):
                return

    def peek(self, site: str) -> float:
        now_ms = self._now_ms()
        blocked, spacing = self._budget_args(site, now_ms)
        values = [int(v or 0) for v in self.redis.mget(self._keys(site))]
        slot = max(now_ms, blocked, *values[:3], values[3] if spacing >= 0 else 0)
        return (slot - now_ms) / 1000

    def paused_until(self, site: str) -> float:
        return self.paused_until_ms(site) / 1000

    def paused_until_ms(self, site: str) -> int:
        names = [f"{self.prefix}pause:{site}", f"{self.prefix}pause:{GLOBAL}"]
        return max((int(v) for v in self.redis.mget(names) if v is not None), default=0)

    def pause(self, site: str, seconds: float, reason: str) -> None:
        key = GLOBAL if pause_scope(reason) == GLOBAL else site
        until = self._now_ms() + int(seconds * 1000)
        name = f"{self.prefix}pause:{key}"
        current = int(self.redis.get(name) or 0)
        if until > current:
            self.redis.set(name, until, px=int(seconds * 1000) + 1000)


def default_gate() -> Gate:
    from allyproof.integrations.jira.connection.budget import default_budget

    interval = settings.CONFIG.jira_push_interval_ms / 1000
    if settings.CONFIG.redis_url:
        return RedisGate(url=settings.CONFIG.redis_url, interval=interval, budget=default_budget())
    return DatabaseGate(interval=interval, budget=default_budget())
