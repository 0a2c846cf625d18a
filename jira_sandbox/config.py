"""Typed configuration of a sandbox world, read once from a dict, a JSON file or the defaults."""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

# Status categories as real Jira Cloud returns them (ids/colours seen in captured payloads).
STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}

DEFAULT_APP_SCOPES = [
    "read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook",
    "offline_access", "read:me",
]
DAY = 86400.0


@dataclass
class Account:
    account_id: str
    display_name: str
    email: str = ""


@dataclass
class IssueType:
    id: str
    name: str
    subtask: bool = False
    hierarchy_level: int = 0
    description: str = ""


@dataclass
class Status:
    id: str
    name: str
    category: str  # new | indeterminate | done


@dataclass
class Transition:
    id: str
    name: str
    to: str  # status name; every transition is global (from any status), like Jira's simplified workflow


@dataclass
class RequiredField:
    field_id: str
    name: str
    has_default: bool = False
    schema_type: str = "string"


@dataclass
class Project:
    id: str
    key: str
    name: str
    issue_types: list[str]
    required_fields: dict[str, list[RequiredField]] = field(default_factory=dict)
    components: list[str] = field(default_factory=list)  # names; ids are 10100, 10101, ... in order


@dataclass
class Site:
    cloud_id: str
    name: str
    slug: str
    url: str
    projects: list[Project] = field(default_factory=list)
    # accessible-resources can list a non-Jira container with the same id (Atlassian docs §1.4).
    confluence: bool = False
    # Jira has answered a search naming a deleted key both ways: 400 for the whole query, or the other keys.
    search_omits_missing_keys: bool = False
    # Webhook bodies in the older shape, without `statuscategorychangedate` (search and GET still send it):
    # a receiver must then read the status change from the changelog, and nothing else.
    webhooks_omit_status_change_date: bool = False


@dataclass
class Timing:
    access_token_ttl: float = 3600.0           # "access_token which expires after 1 hour"
    code_ttl: float = 600.0                    # undocumented; short-lived
    refresh_inactivity: float = 90 * DAY       # rotating refresh token inactivity expiry
    refresh_absolute: float | None = 365 * DAY  # 2022 announcement; None turns it off
    refresh_leeway: float = 600.0              # reuse interval
    index_delay: float = 0.0                   # search sees writes this much later
    webhook_ttl: float = 30 * DAY
    max_webhooks: int = 5                      # per app per user per site
    retry_schedule: list[float] = field(default_factory=lambda: [300.0, 600.0, 900.0, 900.0, 900.0])
    jwt_ttl: float = 180.0


@dataclass
class RateLimits:
    enabled: bool = True
    burst: dict[str, float] = field(default_factory=lambda: {"GET": 100, "POST": 100, "PUT": 50, "DELETE": 50})
    burst_overrides: dict[str, float] = field(
        default_factory=lambda: {"GET /rest/api/3/issue/{issueIdOrKey}": 150})
    per_issue_writes: list[list[float]] = field(default_factory=lambda: [[20, 2], [100, 30]])
    global_points_per_hour: int = 65000
    site_points_per_hour: int | None = 65000
    # "enforced": RateLimit-Policy, RateLimit, RateLimit-Reason, Retry-After; "beta": the names the points
    # quotas carried while in beta (Beta-RateLimit-Policy, Beta-RateLimit, X-Beta-RateLimit-Reason,
    # Beta-Retry-After, X-Beta-RateLimit-Reset), as logged in production in March 2026.
    header_style: str = "enforced"


@dataclass
class SandboxConfig:
    client_id: str = "allyproof-sandbox"
    client_secret: str = "sandbox-client-secret"
    redirect_uris: list[str] = field(default_factory=list)  # empty: any http(s) URL
    app_scopes: list[str] = field(default_factory=lambda: list(DEFAULT_APP_SCOPES))
    accounts: list[Account] = field(default_factory=list)
    issue_types: list[IssueType] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    auto_approve: bool = False
    state_file: str | None = None

    @classmethod
    def default(cls) -> SandboxConfig:
        from .world import DEFAULT_WORLD
        return cls.from_dict(copy.deepcopy(DEFAULT_WORLD))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxConfig:
        from .world import DEFAULT_WORLD
        merged = {**copy.deepcopy(DEFAULT_WORLD), **data}
        return _build(cls, merged)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> SandboxConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def with_env(self, environ: dict[str, str] | None = None) -> SandboxConfig:
        """Serve mode: the product's own variables name the client id and secret."""
        env = os.environ if environ is None else environ
        self.client_id = env.get("ATLASSIAN_CLIENT_ID") or self.client_id
        self.client_secret = env.get("ATLASSIAN_CLIENT_SECRET") or self.client_secret
        if env.get("JIRA_SANDBOX_REDIRECT_URIS"):
            self.redirect_uris = env["JIRA_SANDBOX_REDIRECT_URIS"].split()
        if env.get("JIRA_SANDBOX_INDEX_DELAY"):
            self.timing.index_delay = float(env["JIRA_SANDBOX_INDEX_DELAY"])
        return self

    def with_local_site_urls(self, base_url: str) -> SandboxConfig:
        """Served mode: site URLs point at pages this sandbox serves, so 'open in Jira' works."""
        for site in self.sites:
            site.url = f"{base_url.rstrip('/')}/sites/{site.slug}"
        return self

    # lookups used everywhere
    def status_by_name(self, name: str) -> Status | None:
        return next((s for s in self.statuses if s.name.lower() == name.lower()), None)

    def status_by_id(self, status_id: str) -> Status:
        return next(s for s in self.statuses if s.id == status_id)

    def issue_type(self, id_or_name: str) -> IssueType | None:
        return next((t for t in self.issue_types
                     if t.id == id_or_name or t.name.lower() == str(id_or_name).lower()), None)

    def site(self, cloud_id: str) -> Site | None:
        return next((s for s in self.sites if s.cloud_id == cloud_id), None)

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)


_NESTED = {
    "accounts": Account, "issue_types": IssueType, "statuses": Status, "transitions": Transition,
    "sites": Site, "projects": Project,
}


def _build(cls: type, data: dict[str, Any]) -> Any:
    """Dataclass from a dict, recursing into the known nested lists; unknown keys are an error."""
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name in _NESTED and isinstance(value, list):
            value = [_build(_NESTED[name], v) if isinstance(v, dict) else v for v in value]
        elif name == "timing" and isinstance(value, dict):
            value = _build(Timing, value)
        elif name == "rate_limits" and isinstance(value, dict):
            value = _build(RateLimits, value)
        elif name == "required_fields" and isinstance(value, dict):
            value = {t: [f if is_dataclass(f) else _build(RequiredField, f) for f in fs]
                     for t, fs in value.items()}
        kwargs[name] = value
    return cls(**kwargs)
