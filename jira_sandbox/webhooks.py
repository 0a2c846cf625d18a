"""Dynamic webhooks: registration rules (30-day expiry, at most 5 per app per user per site,
per-item errors), matching on jqlFilter, and delivery with a HS256 JWT, identifier and retries."""
from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from collections.abc import Callable

import jwt

from . import jql
from .clock import Clock
from .config import SandboxConfig
from .faults import Faults
from .issues import Event
from .state import State, Webhook

log = logging.getLogger("jira_sandbox")
EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created",
          "comment_updated", "comment_deleted", "issue_property_set", "issue_property_deleted")
# Atlassian retries on these answers and on connection failures (2019 retry-policy announcement).
RETRY_STATUSES = {408, 409, 425, 429}
Sender = Callable[[str, dict[str, str], bytes], int]


@dataclass
class Delivery:
    identifier: str
    url: str
    event: str
    issue_key: str
    cloud_id: str
    body: bytes
    webhook_ids: list[int]
    due: float
    attempts: int = 0
    done: bool = False
    held: bool = False  # reorder fault: sent after every other delivery due with it


@dataclass
class Attempt:
    """One line of the delivery log."""
    identifier: str
    url: str
    event: str
    issue_key: str
    attempt: int           # 0 = first try, n = n-th retry
    status: int | None     # None: connection failed / dropped
    time: float
    error: str | None = None
    webhook_ids: list[int] = field(default_factory=list)


class WebhookRegistry:
    def __init__(self, cfg: SandboxConfig, state: State, clock: Clock) -> None:
        self.cfg, self.state, self.clock = cfg, state, clock

    def owned(self, cloud_id: str, account_id: str) -> list[Webhook]:
        return sorted((w for w in self.state.webhooks.values() if w.cloud_id == cloud_id
                       and w.client_id == self.cfg.client_id and w.account_id == account_id),
                      key=lambda w: w.id)

    def register(self, cloud_id: str, account_id: str, url: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Results in request order: {createdWebhookId} or {errors: [...]} per item."""
        results = []
        for item in items:
            errors = jql.webhook_filter_errors(item.get("jqlFilter", ""))
            if not errors and len(self.owned(cloud_id, account_id)) >= self.cfg.timing.max_webhooks:
                errors = [f"The number of webhooks per app per user per site is limited to "
                          f"{self.cfg.timing.max_webhooks}. Delete unused webhooks before registering new ones."]
            if errors:
                results.append({"errors": errors})
                continue
            now = self.clock.now()
            hook = Webhook(self.state.next_webhook_id, cloud_id, self.cfg.client_id, account_id, url,
                           list(item["events"]), item["jqlFilter"], item.get("fieldIdsFilter"),
                           item.get("issuePropertyKeysFilter"), now, now + self.cfg.timing.webhook_ttl)
            self.state.next_webhook_id += 1
            self.state.webhooks[hook.id] = hook
            results.append({"createdWebhookId": hook.id})
        return results

    def refresh(self, cloud_id: str, account_id: str, ids: list[int]) -> float:
        """New expiry for the caller's webhooks; unknown ids and other apps' are ignored."""
        expires = self.clock.now() + self.cfg.timing.webhook_ttl
        for hook in self.owned(cloud_id, account_id):
            if hook.id in ids:
                hook.expires = expires
        return expires

    def delete(self, cloud_id: str, account_id: str, ids: list[int]) -> None:
        for hook in self.owned(cloud_id, account_id):
            if hook.id in ids:
                del self.state.webhooks[hook.id]

    def matching(self, event: Event) -> list[Webhook]:
        now = self.clock.now()
        out = []
        for hook in self.state.webhooks.values():
            if hook.cloud_id != event.cloud_id or hook.expires <= now or event.name not in hook.events:
                continue
            if not _passes_filters(hook, event):
                continue
            try:
                where = jql.parse(hook.jql_filter).where
            except jql.JqlError:
                continue
            if jql.evaluate(where, event.search_doc):
                out.append(hook)
        return out


def _passes_filters(hook: Webhook, event: Event) -> bool:
    if event.name == "jira:issue_updated" and hook.field_ids_filter is not None:
        changed = {i.get("fieldId") or i.get("field") for i in (event.changelog or {}).get("items", [])}
        return bool(changed & set(hook.field_ids_filter))
    if event.property_key is not None and hook.property_keys_filter is not None:
        return event.property_key in hook.property_keys_filter
    return True


class Deliverer:
    """Queues a delivery per event and URL; deliver_pending() sends what is due on the sandbox clock."""

    def __init__(self, cfg: SandboxConfig, clock: Clock, faults: Faults, sender: Callable[[], Sender]) -> None:
        self.cfg, self.clock, self.faults, self.sender = cfg, clock, faults, sender
        self.queue: list[Delivery] = []
        self.log: list[Attempt] = []
        self._lock = threading.Lock()

    def enqueue(self, event: Event, hooks: list[Webhook], body: dict[str, Any]) -> None:
        by_url: dict[str, list[int]] = {}
        for hook in hooks:
            by_url.setdefault(hook.url, []).append(hook.id)
        for url, ids in by_url.items():
            payload = json.dumps({**body, "matchedWebhookIds": ids}).encode()
            delivery = Delivery(secrets.token_hex(16), url, event.name, event.issue.key, event.cloud_id, payload,
                                ids, event.timestamp)
            queued = [delivery]
            fault = self.faults.take_delivery_fault(queued=True)
            if fault is not None and fault.kind == "delay":
                delivery.due += fault.seconds
            elif fault is not None and fault.kind == "reorder":
                delivery.held = True
            elif fault is not None and fault.kind == "redeliver":
                queued.append(dataclasses.replace(delivery, identifier=secrets.token_hex(16),
                                                  due=delivery.due + fault.seconds))
            with self._lock:
                self.queue.extend(queued)

    def jwt(self, cloud_id: str) -> str:
        """Claims are undocumented for OAuth 2.0 apps; iss/iat/exp are what verifiers check."""
        now = int(self.clock.now())
        claims = {"iss": self.cfg.client_id, "iat": now, "exp": now + int(self.cfg.timing.jwt_ttl),
                  "context": {"cloudId": cloud_id}}
        with warnings.catch_warnings():
            # Atlassian secrets are long; the demo's short one only trips PyJWT's key-length warning.
            warnings.simplefilter("ignore")
            return jwt.encode(claims, self.cfg.client_secret, algorithm="HS256")

    def deliver_pending(self) -> int:
        """Send every due delivery once; returns how many attempts were made."""
        now = self.clock.now()
        with self._lock:
            due = sorted((d for d in self.queue if not d.done and d.due <= now), key=lambda d: (d.held, d.due))
        for delivery in due:
            delivery.held = False
            self._attempt(delivery)
        with self._lock:
            self.queue = [d for d in self.queue if not d.done]
        return len(due)

    def next_due(self) -> float | None:
        with self._lock:
            return min((d.due for d in self.queue if not d.done), default=None)

    def _attempt(self, d: Delivery) -> None:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.jwt(d.cloud_id)}",
                   "X-Atlassian-Webhook-Identifier": d.identifier, "X-Atlassian-Webhook-Flow": "Primary"}
        if d.attempts:
            headers["X-Atlassian-Webhook-Retry"] = str(d.attempts)
        fault = self.faults.take_delivery()
        if fault == "drop":
            self._record(d, None, "dropped by fault injection")
            d.done = True
            return
        status, error = self._send(d, headers)
        if fault == "duplicate":
            self._record(d, status, error)
            status, error = self._send(d, headers)
        self._record(d, status, error)
        retry = status is None or status in RETRY_STATUSES or status >= 500
        schedule = self.cfg.timing.retry_schedule
        if retry and d.attempts < len(schedule):
            d.due = self.clock.now() + schedule[d.attempts]
            d.attempts += 1
        else:
            d.done = True

    def _send(self, d: Delivery, headers: dict[str, str]) -> tuple[int | None, str | None]:
        try:
            return int(self.sender()(d.url, dict(headers), d.body)), None
        except Exception as exc:  # any transport failure counts as "connection fails / times out"
            return None, f"{type(exc).__name__}: {exc}"

    def _record(self, d: Delivery, status: int | None, error: str | None) -> None:
        log.info("sandbox.webhook_delivery id=%s event=%s issue=%s attempt=%s status=%s",
                 d.identifier, d.event, d.issue_key, d.attempts, status)
        with self._lock:
            self.log.append(Attempt(d.identifier, d.url, d.event, d.issue_key, d.attempts, status,
                                    self.clock.now(), error, list(d.webhook_ids)))


def http_sender(timeout: float = 10.0, deliver_to: str | None = None) -> Sender:
    """POST each delivery to its URL; with `deliver_to` (a base URL) to that base instead, as the
    TLS-terminating proxy in front of an app would: the registered URL's host goes in `Host` and its
    scheme in `X-Forwarded-Proto`, so an app whose public URL is https:// can be served locally."""
    import httpx

    def send(url: str, headers: dict[str, str], body: bytes) -> int:
        if deliver_to:
            parts = urlsplit(url)
            url = deliver_to.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
            headers = {**headers, "Host": parts.netloc, "X-Forwarded-Proto": parts.scheme}
        return httpx.post(url, headers=headers, content=body, timeout=timeout).status_code
    return send
