"""Jira Cloud REST v3 of one site: URL constants and short methods in Jira's vocabulary, no business
decisions. Every request goes through `transport.send`; pagination lives here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from allyproof.integrations.jira.connection.errors import JiraAuthError, JiraRateLimited
from allyproof.integrations.jira.connection.client.transport import json_body as _json
from allyproof.integrations.jira.connection.client.transport import request_timeout, send

PROJECT = "/rest/api/3/project/{key}"
PROJECT_SEARCH = "/rest/api/3/project/search"
CREATEMETA_TYPES = "/rest/api/3/issue/createmeta/{key}/issuetypes"
CREATEMETA_FIELDS = "/rest/api/3/issue/createmeta/{key}/issuetypes/{type_id}"
ISSUE = "/rest/api/3/issue"
ISSUE_ONE = "/rest/api/3/issue/{key}"
COMMENT = "/rest/api/3/issue/{key}/comment"
TRANSITIONS = "/rest/api/3/issue/{key}/transitions"
SEARCH = "/rest/api/3/search/jql"
LINK_TYPES = "/rest/api/3/issueLinkType"
ISSUE_LINK = "/rest/api/3/issueLink"
WEBHOOK = "/rest/api/3/webhook"
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
        self._timeout = request_timeout(timeout)

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> httpx.Response:
        def attempt(access_token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {access_token}"}
            pace = (lambda: self._before_call(self.cloud_id)) if self._before_call else None
            if self._timeout is not None:
                kwargs.setdefault("timeout", self._timeout)
            seen = (lambda r: self._on_response(self.cloud_id, method, r)) if self._on_response else None
            return send(method, self.base + path, headers=headers, idempotent=idempotent, before_send=pace,
                        on_response=seen, **kwargs)

        try:
            return attempt(self._token())
        except JiraRateLimited as limited:
            if self._on_rate_limited is not None:
                self._on_rate_limited(self.cloud_id, limited)
            raise
        except JiraAuthError as error:
            # A 401 means the request was refused before it ran, so one retry with a fresh token is
            # safe even for a create (the access token can be revoked or expire early).
            if self._refresh is None or not error.token_refused:
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
