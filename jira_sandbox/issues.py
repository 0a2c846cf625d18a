"""Issue actions (create, edit, transition, comment, property, delete): every state change happens here,
for the HTTP API and the Python helpers alike, and each one announces the webhook event Jira would fire."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from .clock import Clock, epoch_ms
from .config import SandboxConfig, Site
from .present import comment_json, issue_json, user_json
from .state import Comment, Issue, SiteState, State


@dataclass
class Event:
    name: str                    # webhookEvent, e.g. jira:issue_updated
    cloud_id: str
    issue: Issue
    search_doc: dict[str, Any]    # for jqlFilter matching
    timestamp: float
    actor_id: str
    event_type_name: str | None = None   # issue_event_type_name
    changelog: dict[str, Any] | None = None
    comment: dict[str, Any] | None = None
    property_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class NotFound(LookupError):
    pass


def search_doc(cfg: SandboxConfig, site: SiteState, issue: Issue) -> dict[str, Any]:
    """The values JQL clauses compare against (ids, keys and names all match, as in Jira)."""
    project = site.project(issue.project_key)
    status = cfg.status_by_id(issue.status_id)
    category = {"new": ("To Do", "2"), "indeterminate": ("In Progress", "4"), "done": ("Done", "3")}
    cat_name, cat_id = category[status.category]
    itype = cfg.issue_type(issue.issuetype_id)
    return {
        "project": [project.key, project.id, project.name], "key": [issue.key, issue.id],
        "labels": list(issue.labels), "statusCategory": [cat_name, status.category, cat_id],
        "status": [status.name, status.id], "issuetype": [itype.name, itype.id],
        "assignee": [], "reporter": [issue.reporter_id], "summary": [issue.summary],
        "project_key": project.key, "number": int(issue.key.rsplit("-", 1)[1]),
        "created_ts": issue.created, "updated_ts": issue.updated,
    }


class IssueService:
    def __init__(self, cfg: SandboxConfig, state: State, clock: Clock, emit: Callable[[Event], None],
                 lock: threading.RLock) -> None:
        self.cfg, self.state, self.clock, self.emit, self.lock = cfg, state, clock, emit, lock
        self.search_lag: dict[str, float] = {}  # per site, overrides timing.index_delay

    def index_delay(self, cloud_id: str) -> float:
        """How long after a write search sees it on this site (Jira's index is eventually consistent)."""
        return self.search_lag.get(cloud_id, self.cfg.timing.index_delay)

    # lookups
    def site_cfg(self, cloud_id: str) -> Site:
        site = self.cfg.site(cloud_id)
        if site is None:
            raise NotFound(f"No site with cloud id {cloud_id}")
        return site

    def site_state(self, cloud_id: str) -> SiteState:
        self.site_cfg(cloud_id)
        return self.state.sites[cloud_id]

    def find(self, cloud_id: str, id_or_key: str) -> Issue:
        issue = self.site_state(cloud_id).issue(id_or_key)
        if issue is None:
            raise NotFound("Issue does not exist or you do not have permission to see it.")
        return issue

    def to_json(self, issue: Issue, *, fields: list[str] | None = None, api: str = "3") -> dict[str, Any]:
        site = self.site_cfg(issue.cloud_id)
        project = self.state.sites[issue.cloud_id].project(issue.project_key)
        return issue_json(self.cfg, site, issue, project, fields=fields, api=api)

    # writes
    def create(self, cloud_id: str, *, project_key: str, issuetype_id: str, summary: str,
               actor_id: str, description: Any = None, labels: list[str] | None = None,
               other_fields: dict[str, Any] | None = None, properties: dict[str, Any] | None = None) -> Issue:
        with self.lock:
            site = self.site_state(cloud_id)
            now = self.clock.now()
            number = site.key_counters.get(project_key, 0) + 1
            site.key_counters[project_key] = number
            todo = next(s for s in self.cfg.statuses if s.category == "new")
            issue = Issue(id=str(site.next_issue_id), key=f"{project_key}-{number}", cloud_id=cloud_id,
                          project_key=project_key, issuetype_id=issuetype_id, summary=summary,
                          status_id=todo.id, reporter_id=actor_id, created=now, updated=now,
                          status_changed=now, description=description, labels=list(labels or []),
                          other_fields=dict(other_fields or {}), properties=dict(properties or {}))
            site.next_issue_id += 1
            site.issues[issue.id] = issue
            self._reindex(site, issue)
            self._emit("jira:issue_created", site, issue, actor_id, "issue_created")
            return issue

    def edit(self, cloud_id: str, key: str, changes: dict[str, Any], actor_id: str) -> Issue:
        """A field edit (summary, labels, description, custom fields) with its changelog."""
        with self.lock:
            site, issue = self.site_state(cloud_id), self.find(cloud_id, key)
            items = []
            for name, new in changes.items():
                old = self._get_field(issue, name)
                if old == new:
                    continue
                self._set_field(issue, name, new)
                items.append(_change_item(name, old, new))
            if not items:
                return issue
            self._touch(site, issue, items, actor_id)
            self._emit("jira:issue_updated", site, issue, actor_id, "issue_updated", changelog=issue.histories[-1])
            return issue

    def transition(self, cloud_id: str, key: str, to_status_name: str, actor_id: str) -> Issue:
        with self.lock:
            site, issue = self.site_state(cloud_id), self.find(cloud_id, key)
            old = self.cfg.status_by_id(issue.status_id)
            new = self.cfg.status_by_name(to_status_name)
            if new is None:
                raise ValueError(f"No status named {to_status_name!r}")
            now = self.clock.now()
            items = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": old.id,
                      "fromString": old.name, "to": new.id, "toString": new.name}]
            items += self._resolution_change(issue, new.category, now)
            issue.status_id = new.id
            if old.category != new.category:
                issue.status_changed = now
            self._touch(site, issue, items, actor_id)
            # Transitions fire issue_generic in Jira Cloud's simplified workflows.
            self._emit("jira:issue_updated", site, issue, actor_id, "issue_generic", changelog=issue.histories[-1])
            return issue

    def comment(self, cloud_id: str, key: str, body: Any, actor_id: str) -> Comment:
        with self.lock:
            site, issue = self.site_state(cloud_id), self.find(cloud_id, key)
            now = self.clock.now()
            c = Comment(id=str(site.next_comment_id), author_id=actor_id, body=body, created=now, updated=now)
            site.next_comment_id += 1
            issue.comments.append(c)
            issue.updated = now
            self._reindex(site, issue)
            cj = comment_json(self.cfg, self.site_cfg(cloud_id), issue, c)
            self._emit("jira:issue_updated", site, issue, actor_id, "issue_commented", comment=cj)
            self._emit("comment_created", site, issue, actor_id, None, comment=cj)
            return c

    def set_property(self, cloud_id: str, key: str, prop: str, value: Any, actor_id: str) -> bool:
        """True when the property is new (Jira answers 201), False when updated (200)."""
        with self.lock:
            site, issue = self.site_state(cloud_id), self.find(cloud_id, key)
            created = prop not in issue.properties
            issue.properties[prop] = value
            self._emit("issue_property_set", site, issue, actor_id, None, property_key=prop,
                       extra={"property": {"key": prop, "value": value}})
            return created

    def delete_property(self, cloud_id: str, key: str, prop: str, actor_id: str) -> None:
        with self.lock:
            site, issue = self.site_state(cloud_id), self.find(cloud_id, key)
            if prop not in issue.properties:
                raise NotFound(f"The property with key '{prop}' does not exist.")
            del issue.properties[prop]
            self._emit("issue_property_deleted", site, issue, actor_id, None, property_key=prop,
                       extra={"property": {"key": prop}})

    def delete(self, cloud_id: str, key: str, actor_id: str) -> None:
        with self.lock:
            site, issue = self.site_state(cloud_id), self.find(cloud_id, key)
            self._emit("jira:issue_deleted", site, issue, actor_id, "issue_deleted")
            issue.deleted_at = self.clock.now()
            issue.index.append((issue.deleted_at + self.index_delay(cloud_id), None))

    # helpers
    def _touch(self, site: SiteState, issue: Issue, items: list[dict[str, Any]], actor_id: str) -> None:
        now = self.clock.now()
        issue.updated = now
        issue.histories.append({"id": str(site.next_history_id), "items": items, "author_id": actor_id,
                                "created": now})
        site.next_history_id += 1
        self._reindex(site, issue)

    def _reindex(self, site: SiteState, issue: Issue) -> None:
        visible_at = self.clock.now() + self.index_delay(site.cloud_id)
        issue.index.append((visible_at, search_doc(self.cfg, site, issue)))
        del issue.index[:-8]  # older snapshots can never be the visible one again

    def _resolution_change(self, issue: Issue, category: str, now: float) -> list[dict[str, Any]]:
        if category == "done" and not issue.resolution:
            issue.resolution, issue.resolution_date = "Done", now
            return [{"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": None,
                     "fromString": None, "to": "10000", "toString": "Done"}]
        if category != "done" and issue.resolution:
            issue.resolution, issue.resolution_date = None, None
            return [{"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": "10000",
                     "fromString": "Done", "to": None, "toString": None}]
        return []

    @staticmethod
    def _get_field(issue: Issue, name: str) -> Any:
        if name in ("summary", "description", "labels"):
            return getattr(issue, name)
        return issue.other_fields.get(name)

    @staticmethod
    def _set_field(issue: Issue, name: str, value: Any) -> None:
        if name in ("summary", "description", "labels"):
            setattr(issue, name, value)
        else:
            issue.other_fields[name] = value

    def _emit(self, name: str, site: SiteState, issue: Issue, actor_id: str, type_name: str | None,
              **kw: Any) -> None:
        self.emit(Event(name=name, cloud_id=site.cloud_id, issue=issue, search_doc=search_doc(self.cfg, site, issue),
                        timestamp=self.clock.now(), actor_id=actor_id, event_type_name=type_name, **kw))

    def webhook_body(self, event: Event) -> dict[str, Any]:
        """The documented issue-event body (without matchedWebhookIds, added per delivery)."""
        site = self.site_cfg(event.cloud_id)
        body: dict[str, Any] = {
            "timestamp": epoch_ms(event.timestamp), "webhookEvent": event.name,
            "user": user_json(site, self.cfg.account(event.actor_id), event.actor_id),
            # "the same shape returned from the Jira REST API ... with NO expand"; self uses /rest/api/2/.
            "issue": self.to_json(event.issue, api="2"),
        }
        if site.webhooks_omit_status_change_date:
            body["issue"]["fields"].pop("statuscategorychangedate", None)
        if event.event_type_name:
            body["issue_event_type_name"] = event.event_type_name
        if event.changelog:
            body["changelog"] = {"id": event.changelog["id"], "items": event.changelog["items"]}
        if event.comment:
            body["comment"] = event.comment
        body.update(event.extra)
        return body


def _change_item(name: str, old: Any, new: Any) -> dict[str, Any]:
    def text(v: Any) -> Any:
        if v is None:
            return None
        return " ".join(v) if isinstance(v, list) else (v if isinstance(v, str) else "(rich text)")
    return {"field": name, "fieldtype": "custom" if name.startswith("customfield_") else "jira",
            "fieldId": name, "from": None, "fromString": text(old), "to": None, "toString": text(new)}
