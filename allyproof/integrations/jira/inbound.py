"""Inbound webhooks from Jira, in one fixed order (DESIGN §9, STYLE 5): the callback URL names the
connection, then the JWT is verified, then the body is read, recorded, dispatched and logged.

Atlassian signs dynamic-webhook deliveries for OAuth 2.0 apps with a JWT in the Authorization header,
HMAC-signed with the app's client secret; we accept HS256 only, check exp/iat with a small leeway.
Dedupe: the delivery identifier, and a content key scoped to the connection and its site that includes
what changed (changelog or comment id), with (event, issue, timestamp) as its coarse part, so a replay
changes nothing and two changes in one millisecond both apply. Both are unique in the table, so one
INSERT records the delivery and refuses a replay. Intake stops there and answers 202: the worker
(`inbound_apply`) applies what was received, per connection in arrival order (docs/benchmarks.md has
the measurements behind the split).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction

from allyproof.core import clock

from . import inbound_apply
from .models import InboundEvent, JiraConnection, JiraLink
from .status_sync import HANDLERS, IGNORED_EVENTS, link_for
from .sync_log import sync_log_write
from .webhook_payload import BadPayload, Event, parse

log = logging.getLogger(__name__)
LEEWAY_SECONDS = 60
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)  # "last update received" needs no finer grain
MAX_BODY_BYTES = 5 * 1024 * 1024  # an issue with every field and comment stays far below this
INBOUND = "inbound"


class Unauthenticated(Exception):
    """No valid JWT: answered 401 before the body is read."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


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
        # Signature here; the times below against our one clock seam (PyJWT would read the wall clock).
        claims = jwt.decode(
            token, settings.CONFIG.atlassian_client_secret, algorithms=["HS256"],
            options={"require": [], "verify_aud": False, "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"token rejected ({error.__class__.__name__})") from None
    _check_times(claims, clock.now().timestamp())
    return claims


def _check_times(claims: dict[str, Any], now: float) -> None:
    def number(name: str) -> float | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Unauthenticated(f"token rejected (Invalid{name.capitalize()}Error)")
        return float(value)

    exp, iat, nbf = number("exp"), number("iat"), number("nbf")
    if exp is not None and exp < now - LEEWAY_SECONDS:
        raise Unauthenticated("token rejected (ExpiredSignatureError)")
    if (iat is not None and iat > now + LEEWAY_SECONDS) or (nbf is not None and nbf > now + LEEWAY_SECONDS):
        raise Unauthenticated("token rejected (ImmatureSignatureError)")


def connection_for_url(token: str) -> JiraConnection | None:
    return JiraConnection.objects.filter(webhook_token=token).first() if token else None


def dedupe_key(connection: JiraConnection, event: Event, link: JiraLink | None) -> str:
    """Issue by key or by id is the same issue: our link names its id when the delivery names only a key."""
    issue = (link.issue_id if link and link.issue_id else "") or event.issue_id or f"key:{event.issue_key}"
    change = f"changelog:{event.changelog_id}" if event.changelog_id else (
        f"comment:{event.comment_id}" if event.comment_id else "-")
    return f"{connection.pk}:{connection.cloud_id}:{event.name}:{issue}:{event.timestamp}:{change}"[:200]


def _refuse(connection: JiraConnection | None, status: int, code: str, message: str, identifier: str) -> Answer:
    sync_log_write(direction=INBOUND, outcome="refused", code=code, message=message, connection=connection,
                   identifier=identifier)
    log.warning("jira.webhook.refused status=%s reason=%s connection=%s", status, code,
                connection.pk if connection else None)
    return Answer(status, {"error": code, "detail": message})


def receive(*, url_token: str, authorization: str | None, identifier: str, content_length: int | None,
            read_body: Callable[[], bytes], wake: Callable[[], None] | None = None) -> Answer:
    connection = connection_for_url(url_token)
    if connection is None:
        return _refuse(None, 404, "unknown_url", "no connection has this callback URL", identifier)
    try:
        authenticate(authorization)
    except Unauthenticated as problem:
        return _refuse(connection, 401, "unauthenticated", str(problem), identifier)
    if content_length is not None and content_length > MAX_BODY_BYTES:
        return _refuse(connection, 413, "too_large", f"body of {content_length} bytes is over {MAX_BODY_BYTES}",
                       identifier)
    body = read_body()
    try:
        event = parse(body)
    except BadPayload as problem:
        return _refuse(connection, 400, "bad_payload", str(problem), identifier)
    return _accept(connection, event, body, identifier, wake or inbound_apply.wake)


def _other_site(connection: JiraConnection, event: Event, identifier: str) -> Answer:
    """Recorded without a dedupe key: a delivery naming another site's issue must never mask ours."""
    InboundEvent.objects.create(
        connection=connection, identifier=identifier[:200], event=event.name[:60], issue_id=event.issue_id[:30],
        issue_key=event.issue_key[:40], timestamp=event.timestamp, dedupe_key=None, received_at=clock.now(),
        outcome=InboundEvent.Outcome.UNMATCHED, detail="ignored: the issue is on another Jira site")
    sync_log_write(direction=INBOUND, outcome="unmatched", code="other_site",
                   message="ignored: the issue is on another Jira site", connection=connection, event=event.name,
                   identifier=identifier)
    return Answer(200, {"outcome": InboundEvent.Outcome.UNMATCHED, "code": "other_site"})


def _record(connection: JiraConnection, event: Event, identifier: str, key: str, outcome: str,
            detail: str = "", body: str = "") -> InboundEvent | None:
    """One INSERT; None when an earlier delivery holds the identifier or the change (a replay)."""
    try:
        with transaction.atomic():
            return InboundEvent.objects.create(
                connection=connection, identifier=identifier[:200], event=event.name[:60],
                issue_id=event.issue_id[:30], issue_key=event.issue_key[:40], timestamp=event.timestamp,
                dedupe_key=key, received_at=clock.now(), outcome=outcome, detail=detail[:300], body=body)
    except IntegrityError:
        return None


def _note_seen(connection: JiraConnection) -> None:
    now = clock.now()
    if connection.last_webhook_at is None or now - connection.last_webhook_at > LAST_SEEN_RESOLUTION:
        JiraConnection.objects.filter(pk=connection.pk).update(last_webhook_at=now)


def _accept(connection: JiraConnection, event: Event, body: bytes, identifier: str,
            wake: Callable[[], None]) -> Answer:
    """Intake only: dedupe and record in one INSERT, then answer. Deliveries we act on wait as
    "received" for the worker (inbound_apply), which applies each connection's in arrival order."""
    if event.issue_self and urlsplit(event.issue_self).netloc != urlsplit(connection.site_url).netloc:
        return _other_site(connection, event, identifier)
    # Real deliveries name the issue's id; only one naming just a key needs our link to find the id.
    link = link_for(connection, event) if connection.cloud_id and not event.issue_id else None
    key = dedupe_key(connection, event, link)
    acted_on = event.name in HANDLERS
    if acted_on:
        record = _record(connection, event, identifier, key, InboundEvent.Outcome.RECEIVED, body=body.decode())
    else:
        known = event.name in IGNORED_EVENTS
        code = "not_acted_on" if known else "unknown_event"
        message = "ignored: not an event we act on" if known else "ignored: unknown event"
        record = _record(connection, event, identifier, key, InboundEvent.Outcome.IGNORED, message)
    _note_seen(connection)
    if record is None:
        link = link or (link_for(connection, event) if connection.cloud_id else None)  # for the log line only
        sync_log_write(direction=INBOUND, outcome="duplicate", code="duplicate",
                       message="ignored: this change was already received", connection=connection,
                       event=event.name, identifier=identifier,
                       issue_key=event.issue_key or (link.issue_key if link else ""),
                       violation_id=link.violation_id if link else None)
        return Answer(200, {"outcome": InboundEvent.Outcome.DUPLICATE})
    if not acted_on:
        link = link or (link_for(connection, event) if connection.cloud_id else None)  # for the log line only
        sync_log_write(direction=INBOUND, outcome=InboundEvent.Outcome.IGNORED, code=code, message=message,
                       connection=connection, event=event.name, identifier=identifier, issue_key=event.issue_key,
                       violation_id=link.violation_id if link else None)
        return Answer(200, {"outcome": InboundEvent.Outcome.IGNORED, "code": code})
    wake()
    return Answer(202, {"outcome": InboundEvent.Outcome.RECEIVED})
