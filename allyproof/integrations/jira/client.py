"""The one module that sends HTTP to Atlassian.

It owns base URLs, the bearer header, timeouts, pagination and rate-limit headers, and turns every
failure into an `errors.JiraError`. Methods are named in Jira's vocabulary and make no business
decisions. `AtlassianOAuth` speaks to the authorization server; `JiraClient` to one site's REST v3.
Tests point the module at the sandbox with `use_transport(httpx.WSGITransport(app=sandbox))`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from allyproof.core import metrics

from . import ratelimit_headers
from .errors import (
    JiraAuthError,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
    JiraTransientError,
    JiraUnknownOutcome,
    JiraValidationError,
    NeedsReconnect,
)

log = logging.getLogger(__name__)

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


# --- responses to errors -------------------------------------------------------------------------


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


def error_for(response: httpx.Response, *, idempotent: bool) -> JiraError:
    status = response.status_code
    if status == 429:
        reading = ratelimit_headers.read(response.headers, status=status)  # prefixed or not, Beta- or not
        reason = reading.reason or "unknown"
        return JiraRateLimited(
            f"Jira is rate limiting us ({reason})",
            reason=reason,
            retry_after=_retry_after(reading.retry_after),
            reset_at=_reset_at(reading.reset_at),
        )
    if status in (400, 422):
        errors, messages = _error_collection(response)
        detail = "; ".join([*messages, *(f"{field}: {text}" for field, text in errors.items())])
        return JiraValidationError(f"Jira refused the request: {detail or status}", errors=errors, messages=messages)
    if status == 401:
        return JiraAuthError("Jira did not accept our access token")
    if status == 403:
        _, messages = _error_collection(response)
        return JiraAuthError("Jira says we may not do that" + (f": {messages[0]}" if messages else ""))
    if status == 404:
        return JiraNotFound("Jira has no such resource")
    if status >= 500 or status in (408, 409, 425):
        kind = JiraTransientError if idempotent else JiraUnknownOutcome
        return kind(f"Jira answered {status}")
    return JiraTransientError(f"Jira answered an unexpected {status}") if idempotent else JiraUnknownOutcome(
        f"Jira answered an unexpected {status}"
    )


def send(request: Callable[[httpx.Client], httpx.Response], *, idempotent: bool,
         before_send: Callable[[], None] | None = None,
         on_response: Callable[[httpx.Response], None] | None = None) -> httpx.Response:
    """Sends one request; returns a 2xx response or raises a JiraError.

    `before_send` (the pacing gate) runs after the HTTP client is ready, right before the request
    leaves, so the spacing Jira sees is the spacing the gate decided."""
    http = _http()
    if before_send is not None:
        before_send()
    try:
        response = metrics.jira_request(request, http)  # times it, by outcome
    except httpx.ConnectError as error:
        # Nothing reached Jira: safe to repeat whatever the method.
        raise JiraTransientError(f"could not reach Atlassian ({error.__class__.__name__})") from None
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
        kind = JiraTransientError if idempotent else JiraUnknownOutcome
        raise kind(f"the connection to Atlassian failed mid-request ({error.__class__.__name__})") from None
    if on_response is not None:
        on_response(response)  # the points budget: what the call cost and what Jira says is left
    if response.is_success:
        return response
    raise error_for(response, idempotent=idempotent)


def _json(response: httpx.Response, *, idempotent: bool = True) -> Any:
    """A 2xx we cannot read: for a write Jira may well have applied it, so its outcome is unknown."""
    try:
        return response.json()
    except ValueError:
        kind = JiraTransientError if idempotent else JiraUnknownOutcome
        raise kind("Atlassian answered something that is not JSON") from None


# --- OAuth 2.0 (3LO) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str


@dataclass(frozen=True)
class AccessibleSite:
    id: str
    name: str
    url: str
    scopes: tuple[str, ...]


class AtlassianOAuth:
    def __init__(self, *, auth_url: str, api_url: str, client_id: str, client_secret: str):
        self.auth_url, self.api_url = auth_url.rstrip("/"), api_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret

    def authorize_url(self, *, scopes: tuple[str, ...], redirect_uri: str, state: str) -> str:
        query = urlencode({
            "audience": "api.atlassian.com", "client_id": self.client_id, "scope": " ".join(scopes),
            "redirect_uri": redirect_uri, "state": state, "response_type": "code", "prompt": "consent",
        })
        return f"{self.auth_url}/authorize?{query}"

    def _token(self, body: dict[str, str]) -> TokenGrant:
        body = {"client_id": self.client_id, "client_secret": self.client_secret, **body}
        try:
            response = send(lambda http: http.post(f"{self.auth_url}/oauth/token", json=body), idempotent=False)
        except (JiraAuthError, JiraValidationError) as error:
            raise NeedsReconnect(f"Atlassian refused the grant: {error}") from None
        data = _json(response)
        return TokenGrant(
            access_token=data["access_token"], refresh_token=data.get("refresh_token"),
            expires_in=int(data.get("expires_in", 3600)), scope=data.get("scope", ""),
        )

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        return self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})

    def refresh(self, *, refresh_token: str) -> TokenGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def accessible_resources(self, *, access_token: str) -> list[AccessibleSite]:
        url = f"{self.api_url}/oauth/token/accessible-resources"
        headers = {"Authorization": f"Bearer {access_token}"}
        data = _json(send(lambda http: http.get(url, headers=headers), idempotent=True))
        return [
            AccessibleSite(id=item["id"], name=item.get("name", ""), url=item.get("url", ""),
                           scopes=tuple(item.get("scopes", [])))
            for item in data if isinstance(item, dict) and "id" in item
        ]


# --- Jira Cloud REST v3 ---------------------------------------------------------------------------

PROJECT = "/rest/api/3/project/{key}"
PROJECT_SEARCH = "/rest/api/3/project/search"
CREATEMETA_TYPES = "/rest/api/3/issue/createmeta/{key}/issuetypes"
CREATEMETA_FIELDS = "/rest/api/3/issue/createmeta/{key}/issuetypes/{type_id}"
ISSUE = "/rest/api/3/issue"
ISSUE_ONE = "/rest/api/3/issue/{key}"
COMMENT = "/rest/api/3/issue/{key}/comment"
TRANSITIONS = "/rest/api/3/issue/{key}/transitions"
SEARCH = "/rest/api/3/search/jql"
TRANSITIONS = "/rest/api/3/issue/{key}/transitions"
LINK_TYPES = "/rest/api/3/issueLinkType"
ISSUE_LINK = "/rest/api/3/issueLink"
WEBHOOK = "/rest/api/3/webhook"
TRANSITIONS = "/rest/api/3/issue/{key}/transitions"
WEBHOOK_REFRESH = "/rest/api/3/webhook/refresh"


class JiraClient:
    """REST v3 of one Jira Cloud site, as one connection.

    `token()` returns a usable access token; `refresh_token()` forces a refresh after a 401;
    `before_call(cloud_id)` is the pacing gate, called before every request.
    """

    def __init__(self, *, api_url: str, cloud_id: str, token: Callable[[], str],
                 refresh_token: Callable[[], str] | None = None,
                 before_call: Callable[[str], None] | None = None,
                 on_rate_limited: Callable[[str, JiraRateLimited], None] | None = None,
                 on_response: Callable[[str, str, httpx.Response], None] | None = None,
                 timeout: float | None = None):
        self.base = f"{api_url.rstrip('/')}/ex/jira/{cloud_id}"
        self.cloud_id = cloud_id
        self._token, self._refresh = token, refresh_token
        self._before_call = before_call
        # Told of every 429 at once, so the pause is stored before anyone else's reserved slot goes out.
        self._on_rate_limited = on_rate_limited
        self._on_response = on_response  # (cloud id, method, response): every answer, for the points budget
        self._timeout = httpx.Timeout(timeout, connect=min(5.0, timeout)) if timeout else None

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> httpx.Response:
        def attempt(access_token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {access_token}"}
            pace = (lambda: self._before_call(self.cloud_id)) if self._before_call else None
            if self._timeout is not None:
                kwargs.setdefault("timeout", self._timeout)
            seen = (lambda r: self._on_response(self.cloud_id, method, r)) if self._on_response else None
            return send(lambda http: http.request(method, self.base + path, headers=headers, **kwargs),
                        idempotent=idempotent, before_send=pace, on_response=seen)

        try:
            return attempt(self._token())
        except JiraRateLimited as limited:
            if self._on_rate_limited is not None:
                self._on_rate_limited(self.cloud_id, limited)
            raise
        except JiraAuthError as error:
            # A 401 means the request was refused before it ran, so one retry with a fresh token is
            # safe even for a create (the access token can be revoked or expire early).
            if self._refresh is None or "access token" not in str(error):
                raise
            return attempt(self._refresh())

    def get_project(self, key: str) -> dict[str, Any]:
        return _json(self._call("GET", PROJECT.format(key=key), idempotent=True))

    def search_projects(self, *, query: str = "", action: str = "create", limit: int = 500) -> list[dict[str, Any]]:
        """GET project/search: projects matching `query`; action=create keeps those we may create issues in.
        Follows isLast/startAt up to `limit` projects."""
        values: list[dict[str, Any]] = []
        while len(values) < limit:
            params = {"startAt": len(values), "maxResults": 50, "action": action, "orderBy": "name"}
            if query:
                params["query"] = query
            page = _json(self._call("GET", PROJECT_SEARCH, idempotent=True, params=params))
            batch = page.get("values", [])
            values.extend(batch)
            if page.get("isLast", True) or not batch:
                break
        return values[:limit]

    def create_meta_issue_types(self, project_key: str) -> list[dict[str, Any]]:
        return self._paged_values(CREATEMETA_TYPES.format(key=project_key), "issueTypes")

    def create_meta_fields(self, project_key: str, issue_type_id: str) -> list[dict[str, Any]]:
        return self._paged_values(CREATEMETA_FIELDS.format(key=project_key, type_id=issue_type_id), "fields")

    def _paged_values(self, path: str, key: str) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        start = 0
        while True:
            page = _json(self._call("GET", path, idempotent=True, params={"startAt": start, "maxResults": 200}))
            batch = page.get(key, [])
            values.extend(batch)
            total = page.get("total")
            start += len(batch)
            if not batch or total is None or start >= total:
                return values

    def create_issue(self, body: dict[str, Any]) -> dict[str, Any]:
        return _json(self._call("POST", ISSUE, idempotent=False, json=body), idempotent=False)

    def issue_link_types(self) -> list[dict[str, Any]]:
        return _json(self._call("GET", LINK_TYPES, idempotent=True)).get("issueLinkTypes", [])

    def link_issues(self, *, type_name: str, inward_key: str, outward_key: str) -> None:
        body = {"type": {"name": type_name}, "inwardIssue": {"key": inward_key}, "outwardIssue": {"key": outward_key}}
        self._call("POST", ISSUE_LINK, idempotent=True, json=body)  # Jira answers a repeated link as created

    def get_issue(self, key: str, fields: str = "status,labels,summary") -> dict[str, Any]:
        return _json(self._call("GET", ISSUE_ONE.format(key=key), idempotent=True, params={"fields": fields}))

    def add_comment(self, key: str, body_adf: dict[str, Any]) -> dict[str, Any]:
        return _json(self._call("POST", COMMENT.format(key=key), idempotent=False, json={"body": body_adf}),
                     idempotent=False)

    def get_transitions(self, key: str) -> list[dict[str, Any]]:
        return _json(self._call("GET", TRANSITIONS.format(key=key), idempotent=True)).get("transitions", [])

    def transition_issue(self, key: str, transition_id: str) -> None:
        # Not idempotent: after a lost answer the issue may already have moved, and the same transition
        # from the new status may not exist (callers read the transitions again).
        self._call("POST", TRANSITIONS.format(key=key), idempotent=False, json={"transition": {"id": transition_id}})

    def search(self, jql: str, *, fields: list[str], page_size: int = 100) -> list[dict[str, Any]]:
        """Every issue matching a bounded JQL query, following nextPageToken (no `total` in v3)."""
        issues: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": page_size}
            if token:
                body["nextPageToken"] = token
            page = _json(self._call("POST", SEARCH, idempotent=True, json=body))
            issues.extend(page.get("issues", []))
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                return issues

    def register_webhooks(self, *, url: str, webhooks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"url": url, "webhooks": webhooks}
        data = _json(self._call("POST", WEBHOOK, idempotent=False, json=body))
        # The documented shape wraps results; the older webhooks page shows a bare list.
        return data.get("webhookRegistrationResult", []) if isinstance(data, dict) else list(data)

    def list_webhooks(self) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        start = 0
        while True:
            page = _json(self._call("GET", WEBHOOK, idempotent=True, params={"startAt": start, "maxResults": 100}))
            values.extend(page.get("values", []))
            start += len(page.get("values", []))
            if page.get("isLast", True) or not page.get("values"):
                return values

    def refresh_webhooks(self, ids: list[int]) -> dt.datetime | None:
        data = _json(self._call("PUT", WEBHOOK_REFRESH, idempotent=True, json={"webhookIds": ids}))
        return parse_expiration(data.get("expirationDate"))

    def delete_webhooks(self, ids: list[int]) -> None:
        self._call("DELETE", WEBHOOK, idempotent=True, json={"webhookIds": ids})


def parse_expiration(value: Any) -> dt.datetime | None:
    """The schema says epoch milliseconds; the spec's own example is an ISO string. Accept both."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    text = str(value)
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # Jira writes offsets without a colon ("+0000"), which fromisoformat accepts on 3.11+;
        # anything else is unknown.
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
