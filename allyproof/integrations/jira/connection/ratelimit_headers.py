"""Atlassian's rate-limit headers in every spelling they come in (pure: a header mapping in, values out).

Since the 2026 points quotas, headers arrive unprefixed (`RateLimit-Policy`, `RateLimit`, `RateLimit-Reason`,
`Retry-After`), with the beta prefix (`Beta-RateLimit-Policy`, `Beta-RateLimit`, `Beta-Retry-After`,
`X-Beta-RateLimit-Reason`, `X-Beta-RateLimit-Reset`) and in the older `X-RateLimit-*` form; Atlassian says not
to assume a number or order of policy entries, and `RateLimit-Policy` disappears once a quota's `r` reaches 0.
`X-RateLimit-Limit`/`-Remaining` describe the burst limit on a served call (350/400 in the wild), so they
are read as points only on a 429 that names a points quota.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

GLOBAL_POLICY, TENANT_POLICY = "global-app-quota", "tenant-app-quota"
QUOTA_REASONS = {"jira-quota-global-based": GLOBAL_POLICY, "jira-quota-tenant-based": TENANT_POLICY}

REASON_NAMES = ("RateLimit-Reason", "X-RateLimit-Reason", "Beta-RateLimit-Reason", "X-Beta-RateLimit-Reason")
RETRY_AFTER_NAMES = ("Retry-After", "Beta-Retry-After", "X-Beta-Retry-After")
RESET_NAMES = ("X-RateLimit-Reset", "X-Beta-RateLimit-Reset", "RateLimit-Reset", "Beta-RateLimit-Reset")
POLICY_NAMES = ("RateLimit-Policy", "Beta-RateLimit-Policy", "X-Beta-RateLimit-Policy")
STATE_NAMES = ("RateLimit", "Beta-RateLimit", "X-Beta-RateLimit")

_ENTRY = re.compile(r'\s*"?(?P<name>[A-Za-z0-9_.-]+)"?\s*(?P<params>(?:;\s*[A-Za-z]+\s*=\s*"?[^;,"]*"?\s*)*)')
_PARAM = re.compile(r';\s*(?P<key>[A-Za-z]+)\s*=\s*"?(?P<value>[^;,"]*)"?')


def first(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of `names` present (httpx headers are case-insensitive; plain dicts are looked up both ways)."""
    lowered = None
    for name in names:
        value = headers.get(name)
        if value is None and not hasattr(headers, "multi_items"):
            lowered = lowered if lowered is not None else {k.lower(): v for k, v in headers.items()}
            value = lowered.get(name.lower())
        if value:
            return value
    return None


def structured(value: str | None) -> dict[str, dict[str, str]]:
    """`"global-app-quota";q=65000;w=3600, "tenant-app-quota";q=100` → {name: {q: ..., w: ...}}."""
    entries: dict[str, dict[str, str]] = {}
    for part in (value or "").split(","):
        match = _ENTRY.match(part)
        if match and match.group("name"):
            entries[match.group("name")] = {p.group("key").lower(): p.group("value").strip()
                                            for p in _PARAM.finditer(match.group("params"))}
    return entries


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class PoolReading:
    """What one response says about one points pool: its size, what is left, seconds to its reset."""

    quota: int | None = None
    remaining: int | None = None
    reset_in: int | None = None


@dataclass(frozen=True)
class Reading:
    reason: str | None = None
    retry_after: str | None = None
    reset_at: str | None = None
    pools: dict[str, PoolReading] = field(default_factory=dict)  # by policy name


def read(headers: Mapping[str, str], *, status: int) -> Reading:
    policies = {}
    for name in POLICY_NAMES:
        policies.update(structured(first(headers, (name,))))
    states = {}
    for name in STATE_NAMES:
        states.update(structured(first(headers, (name,))))
    pools: dict[str, PoolReading] = {}
    for name in set(policies) | set(states):
        if name not in (GLOBAL_POLICY, TENANT_POLICY):
            continue  # burst policies are paced per site, not budgeted
        quota, state = policies.get(name, {}), states.get(name, {})
        pools[name] = PoolReading(quota=_int(quota.get("q")), remaining=_int(state.get("r")),
                                  reset_in=_int(state.get("t")))
    reason = first(headers, REASON_NAMES)
    retry_after = first(headers, RETRY_AFTER_NAMES)
    # A refused quota is empty, whatever the policy header says, until the reset we cannot see. With a
    # Retry-After, Jira has said when to try again: the pause every worker reads holds us until then, and
    # marking the pool empty would park bulk work to the top of our hour instead (47 minutes for a
    # `Retry-After: 2` in the end-to-end case 4).
    if status == 429 and reason in QUOTA_REASONS and retry_after is None:
        name = QUOTA_REASONS[reason]
        known = pools.get(name, PoolReading())
        limit = _int(first(headers, ("X-RateLimit-Limit", "X-Beta-RateLimit-Limit")))
        pools[name] = PoolReading(quota=known.quota or limit, remaining=0, reset_in=known.reset_in)
    return Reading(reason=reason, retry_after=retry_after, reset_at=first(headers, RESET_NAMES),
                   pools=pools)
