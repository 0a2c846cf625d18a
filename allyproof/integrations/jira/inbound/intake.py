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
from django.db import connection as db

from allyproof.core import clock

from allyproof.integrations.jira.models import InboundEvent, JiraConnection, JiraLink, JiraSyncLog
from allyproof.integrations.jira.inbound.status_sync import HANDLERS, IGNORED_EVENTS, link_for
from allyproof.integrations.jira.sync_log import sync_log_line, sync_log_write
from allyproof.integrations.jira.inbound.payload import BadPayload, Event, parse

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
        # Signature here, and HS256 only (never "none", never an algorithm the sender picks); the times
        # below against our one clock seam (PyJWT would read the wall clock). One parse of the token.
        claims = jwt.decode_complete(
            token, settings.CONFIG.atlassian_client_secret, algorithms=["HS256"],
            options={"require": [], "verify_aud": False, "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )["payload"]
    except jwt.InvalidAlgorithmError:
        raise Unauthenticated(f"algorithm {_algorithm(token)!r} is not accepted") from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated("token rejected (InvalidSignatureError)") from None
    except jwt.DecodeError:
        raise Unauthenticated("malformed token") from None
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"token rejected ({error.__class__.__name__})") from None
    _check_times(claims, clock.now().timestamp())
    return claims


def _algorithm(token: str) -> object:
    try:
        return jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        return None


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


# The hot path's two statements are written out once, from the models' own names: building them through
# the ORM cost about half of a delivery's web CPU (docs/benchmarks.md, "Webhook intake").
_CONNECTION_FIELDS = ("id", "organization_id", "cloud_id", "site_url", "last_webhook_at")
_CONNECTION_SQL = "SELECT {cols} FROM {table} WHERE {token} = %s"
_EVENT_FIELDS = ("connection", "identifier", "event", "issue_id", "issue_key", "timestamp", "dedupe_key",
                 "received_at", "outcome", "detail", "body")
# No conflict target: either unique constraint (the dedupe key; connection + identifier) refuses a replay.
_EVENT_SQL = "INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT DO NOTHING"


# A replay's log line names our link's issue and violation: status_sync.link_for's rule (by id, else by key).
_LINK_FIELDS = ("issue_id", "issue_key", "violation_id")
_LINK_SQL = ("SELECT {cols} FROM {table} WHERE {cloud} = %s AND {org} = %s AND {status} = %s "
             "AND ({issue_id} = %s OR {issue_key} = %s) LIMIT 2")


def _sql(template: str, model, columns, **names) -> str:
    q = db.ops.quote_name
    return template.format(table=q(model._meta.db_table), cols=", ".join(q(c) for c in columns),
                           values=", ".join(["%s"] * len(columns)), **{k: q(v) for k, v in names.items()})


def connection_for_url(token: str) -> JiraConnection | None:
    """Only what intake reads (the worker loads the whole row), as a deferred model instance."""
    if not token:
        return None
    fields = [JiraConnection._meta.get_field(name) for name in _CONNECTION_FIELDS]
    with db.cursor() as cursor:
        cursor.execute(_sql(_CONNECTION_SQL, JiraConnection, [f.column for f in fields], token="webhook_token"),
                       [token])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for field, value in zip(fields, row, strict=True):
        column = field.get_col(JiraConnection._meta.db_table)
        for convert in db.ops.get_db_converters(column) + field.get_db_converters(db):
            value = convert(value, column, db)  # SQLite hands back text for a time
        values.append(value)
    return JiraConnection.from_db(db.alias, [f.attname for f in fields], values)


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
            read_body: Callable[[], bytes], wake: Callable[[], None]) -> Answer:
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
    return _accept(connection, event, body, identifier, wake)


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
            detail: str = "", body: str = "") -> bool:
    """One INSERT, which commits on its own (one round trip); False when an earlier delivery holds the
    identifier or the change (a replay). A connection deleted meanwhile fails the foreign key: a 500
    that Atlassian retries, and the retry finds no connection (404)."""
    values = dict(connection=connection.pk, identifier=identifier[:200], event=event.name[:60],
                  issue_id=event.issue_id[:30], issue_key=event.issue_key[:40], timestamp=event.timestamp,
                  dedupe_key=key, received_at=clock.now(), outcome=outcome, detail=detail[:300], body=body)
    fields = [InboundEvent._meta.get_field(name) for name in _EVENT_FIELDS]
    with db.cursor() as cursor:
        cursor.execute(_sql(_EVENT_SQL, InboundEvent, [f.column for f in fields]),
                       [f.get_db_prep_save(values[f.name], db) for f in fields])
        return cursor.rowcount == 1


# On PostgreSQL the stamp skips a row the worker holds for a batch: waiting for it held a sync gunicorn
# worker, and every delivery queued behind it, for the batch's length. A skipped stamp is written by the
# next delivery after the batch, so "the last webhook" stays accurate to the minute.
_SEEN_SQL = ("UPDATE {table} SET {seen} = %s WHERE {pk} = (SELECT {pk} FROM {table} WHERE {pk} = %s "
             "FOR NO KEY UPDATE SKIP LOCKED)")


def _note_seen(connection: JiraConnection) -> None:
    now = clock.now()
    if connection.last_webhook_at is not None and now - connection.last_webhook_at <= LAST_SEEN_RESOLUTION:
        return
    if db.vendor != "postgresql":  # SQLite has no row locks to wait on
        JiraConnection.objects.filter(pk=connection.pk).update(last_webhook_at=now)
        return
    seen = JiraConnection._meta.get_field("last_webhook_at")
    with db.cursor() as cursor:
        cursor.execute(_sql(_SEEN_SQL, JiraConnection, [], seen=seen.column, pk="id"),
                       [seen.get_db_prep_save(now, db), connection.pk])


def _link_for_line(connection: JiraConnection, event: Event) -> tuple[str, int | None]:
    """(issue key, violation id) of our live link to the event's issue, for a replay's log line."""
    if not (event.issue_id or event.issue_key):
        return "", None
    sql = _sql(_LINK_SQL, JiraLink, _LINK_FIELDS, cloud="cloud_id", org="organization_id", status="status",
               issue_id="issue_id", issue_key="issue_key")
    with db.cursor() as cursor:  # an empty id or key is passed as NULL, which matches nothing
        cursor.execute(sql, [connection.cloud_id, connection.organization_id, JiraLink.Status.LINKED,
                             event.issue_id or None, event.issue_key or None])
        rows = cursor.fetchall()
    by_id = [row for row in rows if event.issue_id and row[0] == event.issue_id]
    issue_id, issue_key, violation_id = (by_id or rows or [("", "", None)])[0]
    return issue_key, violation_id


def _write_line(line: JiraSyncLog) -> None:
    """sync_log_write's INSERT, written out: a replay (a fifth of all deliveries) logs one line."""
    fields = [f for f in JiraSyncLog._meta.concrete_fields if not f.primary_key]
    sql = "INSERT INTO {table} ({cols}) VALUES ({values})"
    with db.cursor() as cursor:
        cursor.execute(_sql(sql, JiraSyncLog, [f.column for f in fields]),
                       [f.get_db_prep_save(getattr(line, f.attname), db) for f in fields])


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
        recorded = _record(connection, event, identifier, key, InboundEvent.Outcome.RECEIVED, body=body.decode())
    else:
        known = event.name in IGNORED_EVENTS
        code = "not_acted_on" if known else "unknown_event"
        message = "ignored: not an event we act on" if known else "ignored: unknown event"
        recorded = _record(connection, event, identifier, key, InboundEvent.Outcome.IGNORED, message)
    _note_seen(connection)
    if not recorded:
        link_key, violation_id = (link.issue_key, link.violation_id) if link else (
            _link_for_line(connection, event) if connection.cloud_id else ("", None))
        _write_line(sync_log_line(direction=INBOUND, outcome="duplicate", code="duplicate",
                                  message="ignored: this change was already received", connection=connection,
                                  event=event.name, identifier=identifier, issue_key=event.issue_key or link_key,
                                  violation_id=violation_id))
        return Answer(200, {"outcome": InboundEvent.Outcome.DUPLICATE})
    if not acted_on:
        link = link or (link_for(connection, event) if connection.cloud_id else None)  # for the log line only
        sync_log_write(direction=INBOUND, outcome=InboundEvent.Outcome.IGNORED, code=code, message=message,
                       connection=connection, event=event.name, identifier=identifier, issue_key=event.issue_key,
                       violation_id=link.violation_id if link else None)
        return Answer(200, {"outcome": InboundEvent.Outcome.IGNORED, "code": code})
    wake()
    return Answer(202, {"outcome": InboundEvent.Outcome.RECEIVED})
