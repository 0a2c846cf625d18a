"""The app's Jira points budget: one hourly pool for the whole app, one per Jira site, spent fairly.

Since March 2026 an OAuth 2.0 (3LO) app's 65,000 points an hour are one pool shared by every customer
(Atlassian answers `jira-quota-global-based` to everyone until the top of the hour once it is spent), beside
per-tenant pools. Each pool is tracked in the database or Redis (never in one process's memory) from two
sources: our own accounting of each call's cost, and what Atlassian's headers say is left (the larger of
the two "used" figures wins, so traffic we did not count still counts).

How it is spent (decided here, pure, from a few numbers):
* bulk work (bulk, picked and auto push jobs) spends a pool at its sustainable rate, (left − headroom) /
  seconds to the reset, so the hour's points last the hour instead of being drained in minutes;
* that rate is shared equally by the Jira sites that have bulk work pending: each gets one call every
  `active sites / rate` seconds. This is the fluid form of fair queueing (generalized processor sharing):
  a site with 500 items gets no more than a site with 10, and when the 10 are done the others' share
  grows at once. It needs no central dispatcher, only the count of sites with pending items, which the
  database knows, so any number of consumers on any number of machines apply the same shares;
* interactive calls (a person's single push, reconciliation, webhook upkeep) skip the fair-share spacing
  and may spend the headroom bulk work leaves, down to zero; per-site pacing still applies to them.
When bulk work may not spend (nothing left above the headroom) it waits for the reset and says so:
"Paused by Jira until HH:MM", never a failed item.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Greatest

from allyproof.integrations.jira.connection import ratelimit_headers as rl
from allyproof.integrations.jira.models import JiraConnection, PointsPool, PushJob, PushJobItem

GLOBAL = "global"
BULK, INTERACTIVE = "bulk", "interactive"
HOUR = 3600
_lane: contextvars.ContextVar[str] = contextvars.ContextVar("jira_budget_lane", default=INTERACTIVE)


@contextlib.contextmanager
def lane(name: str) -> Iterator[None]:
    """Calls made inside the block spend as `name` (a push job sets BULK for its own calls; the rest
    of the app, a person's single push included, is INTERACTIVE by default)."""
    token = _lane.set(name)
    try:
        yield
    finally:
        _lane.reset(token)


def current_lane() -> str:
    return _lane.get()


def hour_of(now: float) -> int:
    return int(now // HOUR)


def seconds_to_reset(now: float) -> float:
    return (hour_of(now) + 1) * HOUR - now


def call_cost(method: str, body: object) -> int:
    """Atlassian's price: a write costs the base point only; a read 1 + 1 per object it returns."""
    if method.upper() != "GET":
        return 1
    if isinstance(body, dict):
        for key in ("issues", "values", "transitions", "fields", "issueTypes", "issueLinkTypes", "comments"):
            if isinstance(body.get(key), list):
                return 1 + max(1, len(body[key]))
    if isinstance(body, list):
        return 1 + max(1, len(body))
    return 2


@dataclass(frozen=True)
class Pool:
    quota: int | None  # None: no such pool known (no per-site quota seen yet)
    used: int = 0

    @property
    def left(self) -> float:
        return float("inf") if self.quota is None else max(0, self.quota - self.used)


@dataclass(frozen=True)
class Decision:
    spacing: float = 0.0  # seconds between two bulk calls to this site (0: per-site pacing alone)
    blocked_until: float | None = None  # epoch seconds: no call of this lane before then


def decide(*, now: float, global_pool: Pool, site_pool: Pool, active_sites: int, lane_: str,
           headroom: float) -> Decision:
    """What the budget allows one site's next call (pure). `headroom` is the share of each pool that
    bulk work leaves for interactive calls."""
    reset = (hour_of(now) + 1) * HOUR
    if lane_ == INTERACTIVE:
        empty = global_pool.left <= 0 or site_pool.left <= 0
        return Decision(0.0, reset if empty else None)
    spacing = 0.0
    for pool, sharers in ((global_pool, max(1, active_sites)), (site_pool, 1)):
        if pool.quota is None:
            continue
        spendable = pool.left - headroom * pool.quota
        if spendable < 1:
            return Decision(0.0, reset)
        spacing = max(spacing, sharers * seconds_to_reset(now) / spendable)
    return Decision(spacing, None)


class Store(Protocol):
    def pools(self, keys: list[str], hour: int) -> dict[str, Pool]: ...

    def charge(self, keys: list[str], hour: int, points: int) -> None: ...

    def observe(self, key: str, hour: int, quota: int | None, remaining: int | None) -> None: ...


class DatabaseStore:
    """A row per pool (the embedded default): `used` this hour and the quota last seen."""

    def __init__(self, *, default_quota: int):
        self.default_quota = default_quota

    def _rows(self, keys: list[str], hour: int):
        for key in keys:
            PointsPool.objects.get_or_create(key=key, defaults={"hour": hour,
                                                                "quota": self.default_quota if key == GLOBAL else None})
        rows = {r.key: r for r in PointsPool.objects.select_for_update().filter(key__in=keys)}
        for row in rows.values():
            if row.hour != hour:  # the top of the hour: Atlassian resets every pool
                row.hour, row.used = hour, 0
        return rows

    def pools(self, keys: list[str], hour: int) -> dict[str, Pool]:
        rows = {r.key: r for r in PointsPool.objects.filter(key__in=keys)}
        found = {}
        for key in keys:
            row = rows.get(key)
            quota = row.quota if row else (self.default_quota if key == GLOBAL else None)
            found[key] = Pool(quota, row.used if row and row.hour == hour else 0)
        return found

    def charge(self, keys: list[str], hour: int, points: int) -> None:
        """One UPDATE on the hot path (every call of every consumer charges here); rows are made once."""
        fresh = Case(When(hour=hour, then=F("used") + points), default=Value(points))
        if PointsPool.objects.filter(key__in=keys).update(used=fresh, hour=hour) < len(keys):
            with transaction.atomic():
                self._rows(keys, hour)  # creates the missing rows, then charges them all once more
                PointsPool.objects.filter(key__in=keys).update(used=fresh, hour=hour)

    def observe(self, key: str, hour: int, quota: int | None, remaining: int | None) -> None:
        """One UPDATE as well (every answered call with a quota header observes); rows are made once."""
        known = Value(quota) if quota else F("quota")
        used = Case(When(hour=hour, then=F("used")), default=Value(0))
        if remaining is not None:  # the larger "used" wins; no quota known leaves it (SQLite: MAX(x, NULL) is NULL)
            used = Greatest(used, Coalesce(known - Value(remaining), used))
        if not PointsPool.objects.filter(key=key).update(quota=known, used=used, hour=hour):
            with transaction.atomic():
                self._rows([key], hour)
                PointsPool.objects.filter(key=key).update(quota=known, used=used, hour=hour)


_OBSERVE = """
local quota = tonumber(ARGV[1])
if quota and quota > 0 then redis.call('HSET', KEYS[1], 'quota', quota) end
quota = tonumber(redis.call('HGET', KEYS[1], 'quota') or '')
local remaining = tonumber(ARGV[2])
if remaining and quota then
  local used = tonumber(redis.call('HGET', KEYS[1], 'used') or 0)
  if quota - remaining > used then redis.call('HSET', KEYS[1], 'used', quota - remaining) end
end
redis.call('EXPIRE', KEYS[1], 7200)
return 1
"""


class RedisStore:
    """A hash per pool and hour (production): HINCRBY keeps concurrent consumers' charges exact."""

    def __init__(self, *, url: str, default_quota: int, prefix: str = "allyproof:budget:"):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.default_quota, self.prefix = default_quota, prefix
        self._observe = self.redis.register_script(_OBSERVE)

    def _name(self, key: str, hour: int) -> str:
        return f"{self.prefix}{key}:{hour}"

    def pools(self, keys: list[str], hour: int) -> dict[str, Pool]:
        pipe = self.redis.pipeline()
        for key in keys:
            pipe.hmget(self._name(key, hour), "quota", "used")
        found = {}
        for key, (quota, used) in zip(keys, pipe.execute(), strict=True):
            known = int(quota) if quota is not None else (self.default_quota if key == GLOBAL else None)
            found[key] = Pool(known, int(used or 0))
        return found

    def charge(self, keys: list[str], hour: int, points: int) -> None:
        pipe = self.redis.pipeline()
        for key in keys:
            pipe.hincrby(self._name(key, hour), "used", points)
            pipe.expire(self._name(key, hour), 7200)
        pipe.execute()

    def observe(self, key: str, hour: int, quota: int | None, remaining: int | None) -> None:
        self._observe(keys=[self._name(key, hour)],
                      args=[quota or "", "" if remaining is None else remaining])


def active_bulk_sites() -> int:
    """Jira sites (cloud ids) with items pending in a queued or running bulk, picked or auto job."""
    orgs = (PushJobItem.objects.filter(status=PushJobItem.Status.PENDING,
                                       job__status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING])
            .exclude(job__kind=PushJob.Kind.SINGLE).values("job__organization_id").distinct())
    return (JiraConnection.objects.active().filter(organization_id__in=orgs)
            .values("cloud_id").distinct().count())


class Budget:
    """The pools as every process sees them, and the decision for one site's next call."""

    def __init__(self, *, store: Store, headroom: float, active_sites: Callable[[], int] = active_bulk_sites,
                 clock: Callable[[], float] = time.time, refresh: float = 2.0):
        self.store, self.headroom, self.clock = store, headroom, clock
        self._active_sites, self._refresh = active_sites, refresh
        # Reads of the database or Redis kept for a moment: the rate they feed changes slowly, and every
        # call of every thread asks. Writes (charges, what headers say) always go to the shared store.
        self._active: tuple[float, int] | None = None
        self._pools: dict[str, tuple[float, Pool]] = {}

    def active_sites(self, now: float) -> int:
        if self._active is None or not (0 <= now - self._active[0] < self._refresh):
            self._active = (now, self._active_sites())
        return self._active[1]

    def decide(self, site: str, *, now: float | None = None, lane_: str | None = None) -> Decision:
        now = self.clock() if now is None else now
        lane_ = lane_ or current_lane()
        pools = self._read_pools([GLOBAL, site], now)
        sharers = self.active_sites(now) if lane_ == BULK else 1
        return decide(now=now, global_pool=pools[GLOBAL], site_pool=pools[site], active_sites=sharers,
                      lane_=lane_, headroom=self.headroom)

    def _read_pools(self, keys: list[str], now: float) -> dict[str, Pool]:
        fresh = {k: v[1] for k, v in self._pools.items()
                 if k in keys and 0 <= now - v[0] < self._refresh / 4 and hour_of(v[0]) == hour_of(now)}
        if len(fresh) < len(keys):
            read = self.store.pools(keys, hour_of(now))
            self._pools.update({k: (now, pool) for k, pool in read.items()})
            fresh = read
        return fresh

    def forget(self) -> None:
        """Drops the short-lived reads (tests that change the store directly)."""
        self._active, self._pools = None, {}

    def record(self, site: str, *, method: str, status: int, headers, body: object = None) -> None:
        """After a response: charge what it cost (429s are refused, not charged), then take in what
        Atlassian's headers say is left."""
        hour = hour_of(self.clock())
        if status != 429:
            self.store.charge([GLOBAL, site], hour, call_cost(method, body))
        reading = rl.read(headers, status=status)
        for name, pool in reading.pools.items():
            if pool.quota is not None or pool.remaining is not None:
                self.store.observe(GLOBAL if name == rl.GLOBAL_POLICY else site, hour, pool.quota, pool.remaining)


_shared: dict[tuple, Budget] = {}


def default_budget() -> Budget:
    """One per process and configuration: its Redis connection pool and its two-second read of the
    active sites are shared by every client the process builds (one per job item)."""
    from django.conf import settings

    config = settings.CONFIG
    quota, headroom = config.jira_points_per_hour, config.jira_budget_headroom_percent / 100
    key = (config.redis_url, quota, headroom)
    if key not in _shared:
        if config.redis_url:
            store: Store = RedisStore(url=config.redis_url, default_quota=quota)
        else:
            store = DatabaseStore(default_quota=quota)
        _shared[key] = Budget(store=store, headroom=headroom)
    return _shared[key]
