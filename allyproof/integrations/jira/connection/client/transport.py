"""The one place that sends HTTP to Atlassian, and turns every failure into an `errors.JiraError`.

It owns the pooled HTTP client, timeouts, the mapping of answers to errors (by status and the body's
fields, never by message text: Jira translates its messages) and the record of every call. Tests point
it at the sandbox with `use_transport(httpx.WSGITransport(app=sandbox))`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from allyproof.core import metrics

from allyproof.integrations.jira.connection import ratelimit_headers
from allyproof.integrations.jira.connection.errors import (
    JiraAuthError,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
    JiraTransientError,
    JiraUnknownOutcome,
    JiraValidationError,
)

log = logging.getLogger("allyproof.integrations.jira.connection.client")

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_transport: httpx.BaseTransport | None = None
_clients = threading.local()


def use_transport(transport: httpx.BaseTransport | None) -> None:
    """Route every request through `transport` (tests: the in-process sandbox); None = the network."""
    global _transport
    _transport = transport
    _clients.__dict__.clear()


@contextlib.contextmanager
def transport(transport_: httpx.BaseTransport) -> Iterator[None]:
    previous = _transport
    use_transport(transport_)
    try:
        yield
    finally:
        use_transport(previous)


def _http() -> httpx.Client:
    # One pooled client per thread: keeps TLS connections to Atlassian warm between calls.
    client = getattr(_clients, "client", None)
    if client is None or getattr(_clients, "transport", None) is not _transport:
        client = httpx.Client(transport=_transport, timeout=TIMEOUT, headers={"Accept": "application/json"})
        _clients.client, _clients.transport = client, _transport
    return client


def request_timeout(seconds: float | None) -> httpx.Timeout | None:
    return httpx.Timeout(seconds, connect=min(5.0, seconds)) if seconds else None


# --- answers to errors ---------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, (parsed - dt.datetime.now(dt.UTC)).total_seconds()) if parsed else None


def _reset_at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _error_collection(response: httpx.Response) -> tuple[dict[str, str], list[str]]:
    try:
        body = response.json()
    except ValueError:
        return {}, []
    if not isinstance(body, dict):
        return {}, []
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
    messages = body.get("errorMessages") if isinstance(body.get("errorMessages"), list) else []
    return {str(k): str(v) for k, v in errors.items()}, [str(m) for m in messages]


def _rate_limited(response: httpx.Response) -> JiraRateLimited:
    reading = ratelimit_headers.read(response.headers, status=429)  # prefixed or not, Beta- or not
    reason = reading.reason or "unknown"
    return JiraRateLimited(f"Jira is rate limiting us ({reason})", reason=reason,
                           retry_after=_retry_after(reading.retry_after), reset_at=_reset_at(reading.reset_at))


def _refused(response: httpx.Response) -> JiraValidationError:
    errors, messages = _error_collection(response)
    detail = "; ".join([*messages, *(f"{field}: {text}" for field, text in errors.items())])
    return JiraValidationError(f"Jira refused the request: {detail or response.status_code}",
                               errors=errors, messages=messages)


def _forbidden(response: httpx.Response) -> JiraAuthError:
    _, messages = _error_collection(response)
    return JiraAuthError("Jira says we may not do that" + (f": {messages[0]}" if messages else ""), status=403)


def error_for(response: httpx.Response, *, idempotent: bool) -> JiraError:
    status = response.status_code
    if status == 429:
        return _rate_limited(response)
    if status in (400, 422):
        return _refused(response)
    if status == 401:  # refused before it ran: the caller may retry once with a fresh token
        return JiraAuthError("Jira did not accept our access token", status=401)
    if status == 403:
        return _forbidden(response)
    if status == 404:
        return JiraNotFound("Jira has no such resource")
    known = status >= 500 or status in (408, 409, 425)
    text = f"Jira answered {status}" if known else f"Jira answered an unexpected {status}"
    return JiraTransientError(text) if idempotent else JiraUnknownOutcome(text)


# --- the record of every call --------------------------------------------------------------------

RATE_LIMIT_FIELDS = (
    ("reason", ratelimit_headers.REASON_NAMES), ("retry_after", ratelimit_headers.RETRY_AFTER_NAMES),
    ("reset", ratelimit_headers.RESET_NAMES), ("policy", ratelimit_headers.POLICY_NAMES),
    ("state", ratelimit_headers.STATE_NAMES),
)


def call_record(method: str, url: str, response: httpx.Response | None, seconds: float) -> dict[str, Any]:
    """One call in plain fields: method, path (no host, no query), status (None: no answer), duration, and
    the rate-limit headers Jira sent, under one name whatever their spelling. Never a header with a token."""
    record: dict[str, Any] = {"method": method, "path": urlsplit(url).path,
                              "status": response.status_code if response is not None else None,
                              "ms": round(seconds * 1000, 1)}
    if response is not None:
        for name, spellings in RATE_LIMIT_FIELDS:
            value = ratelimit_headers.first(response.headers, spellings)
            if value:
                record[f"ratelimit_{name}"] = value
    return record


def _record(method: str, url: str, response: httpx.Response | None, started: float) -> None:
    # A log line and a histogram per call, no database row: a push job makes thousands of calls, and the
    # writes that matter to a person already leave a sync-log line and an OutboundWrite row.
    seconds = time.perf_counter() - started
    metrics.jira_request_observed(method, response.status_code if response is not None else None, seconds)
    log.info("jira.call", extra=call_record(method, url, response, seconds))


# --- sending -------------------------------------------------------------------------------------


def _exchange(http: httpx.Client, request: httpx.Request, *, idempotent: bool) -> httpx.Response:
    method, url = request.method, str(request.url)
    started = time.perf_counter()
    try:
        response = http.send(request)
    except httpx.ConnectError as error:
        _record(method, url, None, started)
        # Nothing reached Jira: safe to repeat whatever the method.
        raise JiraTransientError(f"could not reach Atlassian ({error.__class__.__name__})") from None
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
        _record(method, url, None, started)
        kind = JiraTransientError if idempotent else JiraUnknownOutcome
        raise kind(f"the connection to Atlassian failed mid-request ({error.__class__.__name__})") from None
    except httpx.HTTPError:
        _record(method, url, None, started)
        raise
    _record(method, url, response, started)
    return response


def send(method: str, url: str, *, idempotent: bool, before_send: Callable[[], None] | None = None,
         on_response: Callable[[httpx.Response], None] | None = None, **kwargs: Any) -> httpx.Response:
    """Sends one request; returns a 2xx response or raises a JiraError.

    `before_send` (the pacing gate) runs once the HTTP client is ready and the request is built (its body
    encoded), right before it leaves: the gate stamps the send time, and the less work between that stamp
    and the bytes on the wire, the closer the spacing Jira sees is to the spacing the gate decided."""
    http = _http()
    request = http.build_request(method, url, **kwargs)
    if before_send is not None:
        before_send()
    response = _exchange(http, request, idempotent=idempotent)
    if on_response is not None:
        on_response(response)  # the points budget: what the call cost and what Jira says is left
    if response.is_success:
        return response
    raise error_for(response, idempotent=idempotent)


def json_body(response: httpx.Response, *, idempotent: bool = True) -> Any:
    """A 2xx we cannot read: for a write Jira may well have applied it, so its outcome is unknown."""
    try:
        return response.json()
    except ValueError:
        kind = JiraTransientError if idempotent else JiraUnknownOutcome
        raise kind("Atlassian answered something that is not JSON") from None
