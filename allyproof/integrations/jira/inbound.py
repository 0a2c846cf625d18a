"""Inbound webhooks from Jira: authenticate, record, parse, dispatch (DESIGN §9, STYLE 5).

Atlassian signs dynamic-webhook deliveries for OAuth 2.0 apps with a JWT in the Authorization
header, HMAC-signed with the app's client secret; we accept HS256 only, check exp/iat with a small
leeway, and touch the body only after that. A replay — the same X-Atlassian-Webhook-Identifier, or the
same (event, issue, timestamp) — changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction

from allyproof.core import clock

from .models import InboundEvent, JiraConnection

log = logging.getLogger(__name__)
LEEWAY_SECONDS = 60
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)  # "last update received" needs no finer grain


class Unauthenticated(Exception):
    """No valid JWT: answered 401 before the body is read."""


class BadPayload(Exception):
    """Authenticated, but not a webhook body we can read: answered 400 (Atlassian does not retry it)."""


def authenticate(authorization: str | None) -> dict[str, Any]:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("missing bearer token")
    token = authorization[len("Bearer "):].strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("malformed token") from None
    if header.get("alg") != "HS256":  # never "none", never an algorithm the sender picks
        raise Unauthenticated(f"algorithm {header.get('alg')!r} is not accepted")
    try:
        return jwt.decode(
            token, settings.CONFIG.atlassian_client_secret, algorithms=["HS256"], leeway=LEEWAY_SECONDS,
            options={"require": [], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"token rejected ({error.__class__.__name__})") from None


@dataclass(frozen=True)
class Event:
    name: str
    issue_id: str
    issue_key: str
    timestamp: int | None
    issue_self: str
    matched_webhook_ids: tuple[int, ...]
    payload: dict[str, Any]


def parse(body: bytes) -> Event:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("the body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("webhookEvent"), str):
        raise BadPayload("the body has no webhookEvent")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else {}
    timestamp = payload.get("timestamp")
    matched = payload.get("matchedWebhookIds") or []
    return Event(
        name=payload["webhookEvent"], issue_id=str(issue.get("id", "")), issue_key=str(issue.get("key", "")),
        timestamp=timestamp if isinstance(timestamp, int) else None, issue_self=str(issue.get("self", "")),
        matched_webhook_ids=tuple(i for i in matched if isinstance(i, int)), payload=payload,
    )


def connection_for(event: Event) -> JiraConnection | None:
    """The active connection this delivery belongs to: the issue lives on its site, and the delivery
    names one of its webhook ids (ids are unique only within one Jira site)."""
    host = urlsplit(event.issue_self).netloc
    if not host or not event.matched_webhook_ids:
        return None
    candidates = JiraConnection.objects.filter(status=JiraConnection.Status.ACTIVE, site_url__contains=host)
    for connection in candidates:
        on_site = event.issue_self.startswith(connection.site_url.rstrip("/") + "/")
        if on_site and set(event.matched_webhook_ids) & set(connection.webhook_ids):
            return connection
    return None


Handler = Callable[[JiraConnection, Event], tuple[str, str]]
# Event name -> handler returning (outcome, detail). Filled by the parts that act on events.
HANDLERS: dict[str, Handler] = {}
IGNORED_EVENTS = frozenset({"jira:issue_created", "comment_created", "comment_updated", "comment_deleted"})


def _dispatch(connection: JiraConnection | None, event: Event) -> tuple[str, str]:
    if connection is None:
        return InboundEvent.Outcome.UNMATCHED, "no active connection registered this webhook"
    now = clock.now()
    if connection.last_webhook_at is None or now - connection.last_webhook_at > LAST_SEEN_RESOLUTION:
        JiraConnection.objects.filter(pk=connection.pk).update(last_webhook_at=now)
    handler = HANDLERS.get(event.name)
    if handler is None:
        known = event.name in IGNORED_EVENTS
        return InboundEvent.Outcome.IGNORED, "not an event we act on" if known else "unknown event"
    return handler(connection, event)


def receive(*, authorization: str | None, identifier: str, body: bytes) -> InboundEvent:
    """Raises Unauthenticated or BadPayload; otherwise records the delivery and applies it once."""
    authenticate(authorization)
    event = parse(body)
    dedupe_key = f"{event.name}:{event.issue_id or event.issue_key}:{event.timestamp}"
    if identifier:
        seen = InboundEvent.objects.filter(identifier=identifier).only("pk", "event", "outcome").first()
        if seen is not None:
            return seen
    connection = connection_for(event)
    try:
        with transaction.atomic():
            outcome, detail = _dispatch(connection, event)
            # Recorded after the handler, in the same transaction: a concurrent replay that loses the
            # race on the unique dedupe key rolls back whatever its handler did.
            record = InboundEvent.objects.create(
                connection=connection, identifier=identifier[:200], event=event.name[:60], issue_id=event.issue_id[:30],
                issue_key=event.issue_key[:40], timestamp=event.timestamp, dedupe_key=dedupe_key[:200],
                received_at=clock.now(), outcome=outcome, detail=detail[:300],
            )
    except IntegrityError:
        # Same (event, issue, timestamp) under another identifier: a replay. Nothing is applied again.
        return InboundEvent(event=event.name, dedupe_key=dedupe_key, outcome=InboundEvent.Outcome.DUPLICATE)
    log.info("jira.webhook.received event=%s issue=%s outcome=%s", event.name, event.issue_key, record.outcome)
    return record
