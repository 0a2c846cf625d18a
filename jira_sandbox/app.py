"""The Sandbox: a WSGI app standing in for auth.atlassian.com and api.atlassian.com."""
from __future__ import annotations


import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Iterable

from . import control, gateway, oauth_views, ui
from .adf import AdfSchema
from .clock import Clock
from .config import SandboxConfig
from .conformance import Conformance
from .faults import (Fault, Faults, SandboxConnectionReset, SandboxResponseDropped, SandboxTimeout)
from .issues import Event, IssueService
from .ratelimit import RateLimiter, limited
from .state import State, load_state, save_state
from .tokens import OAuth
from .web import Request, Response, Route, Router, error_collection, html_response
from .webhooks import Attempt, Deliverer, Sender, WebhookRegistry, http_sender

log = logging.getLogger("jira_sandbox")


@dataclass
class RequestRecord:
    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    cloud_id: str | None = None
    status: int | None = None   # None: no response (fault)
    response: Any = None
    headers: dict[str, str] | None = None
    fault: str | None = None
    duration: float = 0.0


class Sandbox:
    def __init__(self, cfg: SandboxConfig | None = None, *, clock: Clock | None = None) -> None:
        self.cfg = cfg or SandboxConfig.default()
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.state: State = load_state(self.cfg.state_file, self.cfg) if self.cfg.state_file else State.initial(self.cfg)
        self.auto_approve = self.cfg.auto_approve
        self.faults = Faults()
        self.conformance = Conformance()
        self.adf = AdfSchema()
        self.oauth = OAuth(self.cfg, self.state.oauth, self.clock)
        self.rate_limiter = RateLimiter(self.cfg.rate_limits)
        self.webhook_registry = WebhookRegistry(self.cfg, self.state, self.clock)
        self.webhook_sender: Sender | None = None
        self.deliver_to: str | None = None  # serve --deliver-to: a local base URL in place of the registered host
        self._deliverer = Deliverer(self.cfg, self.clock, self.faults,
                                    lambda: self.webhook_sender or http_sender(deliver_to=self.deliver_to))
        self.jira = IssueService(self.cfg, self.state, self.clock, self._on_event, self.lock)
        self.requests: list[RequestRecord] = []
        self.sleep: Callable[[float], None] = time.sleep  # latency faults; tests may swap in clock.advance
        self.served = False  # set by serve(): timeouts then really hang
        # late_commit faults: (due on the sandbox clock, the request, its log record), run in order
        self._late: list[tuple[float, Request, RequestRecord]] = []
        self.link_types: dict[str, list[dict[str, str]]] = {}  # per site; absent = DEFAULT_LINK_TYPES
        self.issue_links: list[dict[str, Any]] = []
        self.router = Router(_routes(self))

    # WSGI -----------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        req = Request(environ)
        started = time.perf_counter()
        record = RequestRecord(self.clock.now(), req.method, req.path, req.query, _json_or_none(req))
        try:
            resp = self.handle(req, record)
        finally:
            record.duration = time.perf_counter() - started
            if not req.path.startswith(control.PREFIX):
                with self.lock:
                    self.requests.append(record)
        record.status, record.response, record.headers = resp.status, resp.data, dict(resp.headers)
        headers = {"Content-Length": str(len(resp.body)), **resp.headers}
        start_response(resp.status_line, list(headers.items()))
        return [resp.body]

    def handle(self, req: Request, record: RequestRecord) -> Response:
        if req.path.startswith(control.PREFIX):
            return control.handle(self, req)
        self.commit_due()
        faults = self.faults.take(req.method, req.path)
        for fault in faults:
            if fault.kind == "latency":
                self.sleep(fault.seconds)
        fault = next((f for f in faults if f.kind != "latency"), None)
        if fault is not None:
            record.fault = fault.kind
            early = self._fault_response(fault)
            if early is not None:
                return early
        if fault is not None and fault.kind == "late_commit":
            with self.lock:
                self._late.append((self.clock.now() + fault.commit_after, req, record))
            if fault.commit_after == 0:
                self.commit_due()
            exc = SandboxTimeout(f"sandbox holds the request; it commits {fault.commit_after}s later")
            exc.hang_seconds = fault.seconds  # served mode sleeps this long before closing
            raise exc
        resp = self._dispatch(req, record)
        self._persist(req)
        if fault is not None and fault.kind == "drop_response_after_commit":
            record.response = resp.data  # what the client never saw, kept for the test's eyes
            raise SandboxResponseDropped(f"sandbox dropped the {resp.status} response to {req.method} {req.path}")
        if fault is not None and fault.kind == "commit_then_unreadable" and resp.status < 300:
            record.response = resp.data
            return html_response("<html><body><h1>502 Bad Gateway</h1></body></html>", resp.status)
        if fault is not None and fault.kind == "commit_then_error":
            record.response = resp.data
            return error_collection(fault.status, ["Internal server error"])
        return resp

    def commit_due(self) -> int:
        """Runs the held (late_commit) requests whose time has come on the sandbox clock."""
        done = 0
        while True:
            with self.lock:
                due = [entry for entry in self._late if entry[0] <= self.clock.now()]
                if not due:
                    return done
                entry = min(due, key=lambda e: e[0])
                self._late.remove(entry)
            _, req, record = entry
            resp = self._dispatch(req, record)
            self._persist(req)
            record.response = resp.data  # committed long after the client gave up
            done += 1

    @property
    def late_pending(self) -> int:
        return len(self._late)

    def set_search_lag(self, cloud_id: str | None, seconds: float) -> None:
        """From now on search sees this site's writes `seconds` later (Jira's index under load)."""
        if seconds < 0:
            raise ValueError("search lag must be zero or more seconds")
        self.jira.search_lag[self._cloud(cloud_id)] = float(seconds)

    def _fault_response(self, fault: Fault) -> Response | None:
        if fault.kind == "error":
            return error_collection(fault.status, ["Internal server error"] if fault.status == 500
                                    else ["Service Unavailable"])
        if fault.kind == "rate_limit":
            now = self.clock.now()
            verdict = limited(fault.reason, fault.retry_after, 100, now + fault.retry_after)
            resp = error_collection(429, ["Rate limit exceeded."])
            if fault.retry_after == 0:  # a gateway's bare 429 (seen in April 2026): no Retry-After, no reason
                return resp
            resp.headers.update(verdict.headers)
            return resp
        if fault.kind == "timeout":
            exc = SandboxTimeout(f"sandbox held the request past the client's timeout ({fault.seconds}s)")
            exc.hang_seconds = fault.seconds  # served mode sleeps this long before closing
            raise exc
        if fault.kind == "reset":
            raise SandboxConnectionReset("sandbox reset the connection")
        return None

    def _dispatch(self, req: Request, record: RequestRecord) -> Response:
        if gateway.PREFIX.match(req.path):
            with self.lock:
                return gateway.handle(self, req, record)
        route, params, known = self.router.match(req.method, req.path)
        if route is None:
            return error_collection(405 if known else 404, [f"No such resource: {req.method} {req.path}"])
        req.params = params
        return route.handler(req)

    def _persist(self, req: Request) -> None:
        if req.method != "GET":
            self.save()

    def save(self) -> None:
        """Write the world to cfg.state_file (done after every write request when it is set)."""
        if self.cfg.state_file:
            with self.lock:
                save_state(self.cfg.state_file, self.state)

    # webhooks -------------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        hooks = self.webhook_registry.matching(event)
        if hooks:
            self._deliverer.enqueue(event, hooks, self.jira.webhook_body(event))

    def deliver_pending(self) -> int:
        return self._deliverer.deliver_pending()

    @property
    def deliveries(self) -> list[Attempt]:
        return list(self._deliverer.log)

    @property
    def pending_deliveries(self) -> int:
        return len([d for d in self._deliverer.queue if not d.done])

    def next_delivery_due(self) -> float | None:
        return self._deliverer.next_due()

    # acting as a Jira user (same code paths, same webhooks as the HTTP API) ---------------------------
    def _cloud(self, cloud_id: str | None) -> str:
        return cloud_id or self.cfg.sites[0].cloud_id

    def _actor(self) -> str:
        return self.cfg.accounts[0].account_id

    @contextlib.contextmanager
    def same_millisecond(self):
        """Changes made inside happen at one instant of the sandbox clock: their webhooks share a timestamp.
        A clock already frozen stays where it is (freezing again would jump it to the wall clock)."""
        with self.lock:
            was_frozen = self.clock.frozen
            if not was_frozen:
                self.clock.freeze()
            try:
                yield
            finally:
                if not was_frozen:
                    self.clock.unfreeze()

    def transition_issue(self, cloud_id: str | None, key: str, to_status_name: str) -> dict[str, Any]:
        issue = self.jira.transition(self._cloud(cloud_id), key, to_status_name, self._actor())
        return self.jira.to_json(issue)

    def add_comment(self, cloud_id: str | None, key: str, text: str) -> dict[str, Any]:
        body = {"type": "doc", "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
        c = self.jira.comment(self._cloud(cloud_id), key, body, self._actor())
        return {"id": c.id, "body": c.body}

    def edit_issue(self, cloud_id: str | None, key: str, **fields: Any) -> dict[str, Any]:
        return self.jira.to_json(self.jira.edit(self._cloud(cloud_id), key, fields, self._actor()))

    def delete_issue(self, cloud_id: str | None, key: str) -> None:
        self.jira.delete(self._cloud(cloud_id), key, self._actor())

    def get_issue(self, cloud_id: str | None, key: str) -> dict[str, Any]:
        return self.jira.to_json(self.jira.find(self._cloud(cloud_id), key))

    def issues(self, cloud_id: str | None = None) -> list[dict[str, Any]]:
        self.commit_due()
        site = self.jira.site_state(self._cloud(cloud_id))
        return [self.jira.to_json(i) for i in sorted(site.live_issues(), key=lambda i: int(i.id))]

    def create_issue(self, cloud_id: str | None, project_key: str, summary: str, issue_type: str = "Task",
                     **kw: Any) -> dict[str, Any]:
        it = self.cfg.issue_type(issue_type)
        issue = self.jira.create(self._cloud(cloud_id), project_key=project_key, issuetype_id=it.id,
                                 summary=summary, actor_id=self._actor(), **kw)
        return self.jira.to_json(issue)

    def set_required_field(self, cloud_id: str | None, project_key: str, issue_type_name: str, field_id: str,
                           name: str, has_default: bool = False) -> None:
        from .config import RequiredField
        with self.lock:
            project = self.jira.site_state(self._cloud(cloud_id)).project(project_key)
            fields = project.required_fields.setdefault(issue_type_name, [])
            fields[:] = [f for f in fields if f.field_id != field_id]
            fields.append(RequiredField(field_id, name, has_default))

    def clear_required_fields(self, cloud_id: str | None, project_key: str) -> None:
        with self.lock:
            self.jira.site_state(self._cloud(cloud_id)).project(project_key).required_fields.clear()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens keep working)."""
        with self.lock:
            for tok in self.state.oauth.access.values():
                tok.expires = min(tok.expires, self.clock.now())

    def links_of(self, cloud_id: str | None, key: str) -> list[dict[str, Any]]:
        """Issue links touching `key` (either end)."""
        cloud = self._cloud(cloud_id)
        return [link for link in self.issue_links if link["cloud_id"] == cloud and key in (link["inward"], link["outward"])]

    def set_link_types(self, cloud_id: str | None, names: list[str]) -> None:
        """Keep only these of the default link types on a site (e.g. [] : no "Duplicate")."""
        from .api_links import DEFAULT_LINK_TYPES
        self.link_types[self._cloud(cloud_id)] = [t for t in DEFAULT_LINK_TYPES if t["name"] in names]

    def site_url(self, cloud_id: str | None = None) -> str:
        return self.cfg.site(self._cloud(cloud_id)).url


def _json_or_none(req: Request) -> Any:
    try:
        return req.json()
    except ValueError:
        return None


def _routes(sb: Sandbox) -> list[Route]:
    return [
        Route("GET", "/authorize", lambda r: oauth_views.authorize(sb, r)),
        Route("POST", "/authorize", lambda r: oauth_views.authorize_decision(sb, r)),
        Route("POST", "/oauth/token", lambda r: oauth_views.token(sb, r)),
        Route("GET", "/oauth/token/accessible-resources", lambda r: oauth_views.accessible_resources(sb, r)),
        Route("GET", "/me", lambda r: oauth_views.me(sb, r)),
        *ui.routes(sb),
    ]


