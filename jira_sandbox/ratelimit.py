"""Jira Cloud's rate limits since March 2026: hourly points quotas (global per app, per tenant),
a per-second burst token bucket per tenant × endpoint × method, and per-issue write windows."""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from .clock import iso_utc
from .config import RateLimits

GLOBAL, TENANT, BURST, PER_ISSUE = ("jira-quota-global-based", "jira-quota-tenant-based",
                                    "jira-burst-based", "jira-per-issue-on-write")
REASONS = (GLOBAL, TENANT, BURST, PER_ISSUE)
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")


@dataclass
class Verdict:
    """Headers for the response; `reason` set means answer 429."""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


BETA_NAMES = {"RateLimit-Policy": "Beta-RateLimit-Policy", "RateLimit": "Beta-RateLimit",
              "RateLimit-Reason": "X-Beta-RateLimit-Reason", "Retry-After": "Beta-Retry-After",
              "X-RateLimit-Reset": "X-Beta-RateLimit-Reset"}
QUOTA_REASONS = (GLOBAL, TENANT)


def styled(headers: dict[str, str], style: str) -> dict[str, str]:
    """The points quotas' headers under their beta names when the sandbox plays the beta period."""
    if style != "beta":
        return headers
    return {BETA_NAMES.get(name, name): value for name, value in headers.items()}


def limited(reason: str, retry_after: float, limit: float, reset_at: float) -> Verdict:
    return Verdict({
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": str(int(limit)),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": iso_utc(reset_at),
        "RateLimit-Reason": reason,
    }, reason)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class _Pool:
    hour: int = -1
    used: int = 0


class RateLimiter:
    def __init__(self, cfg: RateLimits) -> None:
        self.cfg = cfg
        self.buckets: dict[tuple[str, str, str], _Bucket] = {}
        self.pools: dict[str, _Pool] = {}
        self.writes: dict[tuple[str, str], deque[float]] = {}

    def check(self, *, now: float, app: str, cloud_id: str, method: str, template: str,
              issue: str | None) -> Verdict:
        """Decide before the request runs; charge() after it, once its cost is known."""
        if not self.cfg.enabled:
            return Verdict()
        for verdict in (self._quota(now, app, cloud_id), self._burst(now, cloud_id, method, template),
                        self._per_issue(now, cloud_id, method, issue)):
            if verdict.reason:
                return verdict
        return Verdict()

    def charge(self, *, now: float, app: str, cloud_id: str, points: int) -> None:
        if not self.cfg.enabled:
            return
        for key, _ in self._pools(app, cloud_id):
            self._pool(key, now).used += points

    # points quota: "All requests are denied until the next hourly reset."
    def _pools(self, app: str, cloud_id: str) -> list[tuple[str, int]]:
        pools = [(f"global:{app}", self.cfg.global_points_per_hour)]
        if self.cfg.site_points_per_hour is not None:
            pools.append((f"tenant:{app}:{cloud_id}", self.cfg.site_points_per_hour))
        return pools

    def _pool(self, key: str, now: float) -> _Pool:
        pool = self.pools.setdefault(key, _Pool())
        hour = int(now // 3600)
        if pool.hour != hour:
            pool.hour, pool.used = hour, 0
        return pool

    def _quota(self, now: float, app: str, cloud_id: str) -> Verdict:
        reset_at = (int(now // 3600) + 1) * 3600
        for key, limit in self._pools(app, cloud_id):
            if self._pool(key, now).used >= limit:
                verdict = limited(GLOBAL if key.startswith("global") else TENANT, reset_at - now, limit, reset_at)
                name = "global-app-quota" if key.startswith("global") else "tenant-app-quota"
                verdict.headers["RateLimit"] = f'"{name}";r=0;t={int(reset_at - now)}'  # no Policy at zero
                return Verdict(styled(verdict.headers, self.cfg.header_style), verdict.reason)
        return Verdict()

    def quota_headers(self, now: float, app: str, cloud_id: str) -> dict[str, str]:
        """Headers of a served request, after it was charged."""
        return self._quota_headers(now, app, cloud_id).headers if self.cfg.enabled else {}

    def _quota_headers(self, now: float, app: str, cloud_id: str) -> Verdict:
        """One policy entry per pool (Atlassian: no fixed number or order), none for a pool at zero
        (observed: the policy header disappears once r=0); `RateLimit` with r and t near a limit."""
        pools = self._pools(app, cloud_id)
        key, limit = min(pools, key=lambda kl: kl[1] - self._pool(kl[0], now).used)
        remaining = max(0, limit - self._pool(key, now).used)
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}
        policies, states = [], []
        for pool_key, pool_limit in pools:
            left = max(0, pool_limit - self._pool(pool_key, now).used)
            name = "global-app-quota" if pool_key.startswith("global") else "tenant-app-quota"
            if left > 0:
                policies.append(f'"{name}";q={pool_limit};w=3600')
            if left < 0.2 * pool_limit:
                states.append(f'"{name}";r={left};t={int((int(now // 3600) + 1) * 3600 - now)}')
        if policies:
            headers["RateLimit-Policy"] = ", ".join(policies)
        if states:
            headers["X-RateLimit-NearLimit"] = "true"
            headers["RateLimit"] = ", ".join(states)
        return Verdict(styled(headers, self.cfg.header_style))

    def _burst(self, now: float, cloud_id: str, method: str, template: str) -> Verdict:
        rate = self.cfg.burst_overrides.get(f"{method} {template}", self.cfg.burst.get(method))
        if not rate:
            return Verdict()
        bucket = self.buckets.setdefault((cloud_id, method, template), _Bucket(rate, now))
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / rate
            return limited(BURST, wait, rate, now + wait)
        bucket.tokens -= 1
        return Verdict()

    def _per_issue(self, now: float, cloud_id: str, method: str, issue: str | None) -> Verdict:
        if issue is None or method not in WRITE_METHODS:
            return Verdict()
        times = self.writes.setdefault((cloud_id, issue), deque())
        longest = max(w for _, w in self.cfg.per_issue_writes)
        while times and times[0] <= now - longest:
            times.popleft()
        for limit, window in self.cfg.per_issue_writes:
            recent = [t for t in times if t > now - window]
            if len(recent) >= limit:
                reset_at = recent[0] + window
                return limited(PER_ISSUE, reset_at - now, limit, reset_at)
        times.append(now)
        return Verdict()
