"""The sandbox's mutable world: issues, webhooks, OAuth grants. In memory; optionally pickled to a file."""
from __future__ import annotations

import copy
import logging
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from typing import Any

from .config import Project, SandboxConfig
from .tokens import TokenStore

log = logging.getLogger("jira_sandbox")


@dataclass
class Comment:
    id: str
    author_id: str
    body: Any
    created: float
    updated: float


@dataclass
class Issue:
    id: str
    key: str
    cloud_id: str
    project_key: str
    issuetype_id: str
    summary: str
    status_id: str
    reporter_id: str
    created: float
    updated: float
    status_changed: float
    description: Any = None
    labels: list[str] = field(default_factory=list)
    resolution: str | None = None
    resolution_date: float | None = None
    other_fields: dict[str, Any] = field(default_factory=dict)  # custom fields, priority, environment...
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    histories: list[dict[str, Any]] = field(default_factory=list)
    # What search sees: (visible_at, snapshot or None once deleted). Jira's index lags writes.
    index: list[tuple[float, dict[str, Any] | None]] = field(default_factory=list)
    deleted_at: float | None = None


@dataclass
class SiteState:
    cloud_id: str
    projects: list[Project]
    next_issue_id: int = 10000
    next_comment_id: int = 10000
    next_history_id: int = 10000
    key_counters: dict[str, int] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)  # by id

    def project(self, key_or_id: str) -> Project | None:
        # Project keys are case-sensitive on GET project/{key} (Atlassian docs §5.2).
        return next((p for p in self.projects if p.key == key_or_id or p.id == key_or_id), None)

    def issue(self, id_or_key: str) -> Issue | None:
        found = self.issues.get(id_or_key)
        if found is None:
            upper = id_or_key.upper()
            found = next((i for i in self.issues.values() if i.key == upper), None)
        return found if found is not None and found.deleted_at is None else None

    def live_issues(self) -> list[Issue]:
        return [i for i in self.issues.values() if i.deleted_at is None]


@dataclass
class Webhook:
    id: int
    cloud_id: str
    client_id: str
    account_id: str
    url: str
    events: list[str]
    jql_filter: str
    field_ids_filter: list[str] | None
    property_keys_filter: list[str] | None
    created: float
    expires: float


@dataclass
class State:
    sites: dict[str, SiteState] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    next_webhook_id: int = 1000
    oauth: TokenStore = field(default_factory=TokenStore)

    @classmethod
    def initial(cls, cfg: SandboxConfig) -> State:
        sites = {s.cloud_id: SiteState(s.cloud_id, copy.deepcopy(s.projects)) for s in cfg.sites}
        return cls(sites=sites)


def load_state(path: str, cfg: SandboxConfig) -> State:
    """The persisted world, or a fresh one when the file is missing or from an older sandbox."""
    if not os.path.exists(path):
        return State.initial(cfg)
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
        if not isinstance(state, State):
            raise TypeError("not a sandbox state")
    except Exception as exc:  # a stale file must not stop the demo from starting
        log.warning("sandbox.state_unreadable path=%s error=%s; starting fresh", path, exc)
        return State.initial(cfg)
    for site in cfg.sites:  # sites added to the config since the file was written
        state.sites.setdefault(site.cloud_id, SiteState(site.cloud_id, copy.deepcopy(site.projects)))
    return state


def save_state(path: str, state: State) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sandbox-state-")
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(state, fh)
    os.replace(tmp, path)
