"""Jira REST v3: search/jql (bounded JQL, nextPageToken paging, no total, eventually consistent)
and the dynamic-webhook operations."""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from . import jql
from .api_context import JiraCall
from .clock import epoch_ms
from .issues import search_doc
from .present import parse_fields_param
from .state import Issue
from .web import Request, Response, error_collection, json_response

MAX_RESULTS_WITH_FIELDS = 100   # search/jql caps pages that carry fields
MAX_RESULTS_IDS = 5000
STATUS_CATEGORY_VALUES = {"to do", "new", "2", "in progress", "indeterminate", "4", "done", "3"}


def _token(offset: int, query: str) -> str:
    raw = json.dumps({"o": offset, "q": hashlib.sha1(query.encode()).hexdigest()[:12]})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _offset(token: str | None, query: str) -> int | None:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["q"] != hashlib.sha1(query.encode()).hexdigest()[:12]:
            return None
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        return None


def search_get(call: JiraCall, req: Request) -> Response:
    reconcile = [int(x) for v in req.query.get("reconcileIssues", []) for x in v.split(",") if x.strip()]
    return _search(call, req.arg("jql", ""), parse_fields_param(req.query.get("fields")),
                   int(req.arg("maxResults", "50")), req.arg("nextPageToken"), reconcile)


def search_post(call: JiraCall, req: Request) -> Response:
    try:
        body = req.json() or {}
    except ValueError:
        return error_collection(400, ["Request body is not valid JSON."])
    fields = body.get("fields")
    return _search(call, body.get("jql", ""), parse_fields_param(fields) if fields else None,
                   int(body.get("maxResults", 50)), body.get("nextPageToken"), body.get("reconcileIssues") or [])


def _value_errors(call: JiraCall, query: jql.Query) -> list[str]:
    """Jira rejects clauses naming things that do not exist."""
    site, errors = call.site_state, []
    omits_missing = call.sb.cfg.site(call.cloud_id).search_omits_missing_keys
    for clause in query.clauses():
        for value in clause.values:
            if clause.field == "project" and not any(
                    value.lower() in (p.key.lower(), p.id, p.name.lower()) for p in site.projects):
                errors.append(f"The value '{value}' does not exist for the field '{clause.written}'.")
            elif clause.field == "key" and site.issue(value) is None and not omits_missing:
                errors.append(f"An issue with key '{value}' does not exist for field '{clause.written}'.")
            elif clause.field == "statusCategory" and value.lower() not in STATUS_CATEGORY_VALUES:
                errors.append(f"The value '{value}' does not exist for the field '{clause.written}'.")
        if clause.field not in jql.FIELD_ALIASES.values():
            errors.append(f"Field '{clause.written}' does not exist or you do not have permission to view it.")
    return errors


def _visible_doc(call: JiraCall, issue: Issue, now: float, reconcile: set[int]) -> dict[str, Any] | None:
    """What the index shows for the issue now; reconcileIssues reads through to the fresh state."""
    if int(issue.id) in reconcile:
        return None if issue.deleted_at is not None else search_doc(call.sb.cfg, call.site_state, issue)
    visible = None
    for at, doc in issue.index:
        if at <= now:
            visible = doc
    return visible


def _search(call: JiraCall, text: str, fields: list[str] | None, max_results: int, token: str | None,
            reconcile: list[int]) -> Response:
    try:
        query = jql.parse(text)
    except jql.JqlError as exc:
        return error_collection(400, [str(exc)])
    if query.where is None:
        return error_collection(400, [jql.UNBOUNDED])
    problems = _value_errors(call, query)
    if problems:
        return error_collection(400, problems)
    offset = _offset(token, text)
    if offset is None:
        return error_collection(400, ["The provided next page token is invalid or expired."])
    now, wanted = call.sb.clock.now(), set(reconcile)
    hits = []
    for issue in call.site_state.issues.values():
        doc = _visible_doc(call, issue, now, wanted)
        if doc is not None and issue.deleted_at is None and jql.evaluate(query.where, doc):
            hits.append((doc, issue))
    for name, desc in reversed(query.order_by or [("created", True), ("key", True)]):
        hits.sort(key=lambda h: jql.sort_key(name)(h[0]), reverse=desc)
    cap = MAX_RESULTS_IDS if fields in (None, ["id"]) else MAX_RESULTS_WITH_FIELDS
    size = max(1, min(max_results, cap))
    page = hits[offset:offset + size]
    call.points += len(page)
    body: dict[str, Any] = {"issues": [_issue_item(call, i, fields) for _, i in page],
                            "isLast": offset + size >= len(hits)}
    if not body["isLast"]:
        body["nextPageToken"] = _token(offset + size, text)
    return json_response(body)


def _issue_item(call: JiraCall, issue: Issue, fields: list[str] | None) -> dict[str, Any]:
    if fields is None or fields == ["id"]:
        return {"id": issue.id}  # search/jql returns only ids unless fields are asked for
    return call.issues.to_json(issue, fields=fields)


# dynamic webhooks -------------------------------------------------------------------------------

def _webhook_json(hook: Any) -> dict[str, Any]:
    out = {"id": hook.id, "jqlFilter": hook.jql_filter, "events": hook.events, "url": hook.url,
           "expirationDate": epoch_ms(hook.expires)}
    if hook.field_ids_filter is not None:
        out["fieldIdsFilter"] = hook.field_ids_filter
    if hook.property_keys_filter is not None:
        out["issuePropertyKeysFilter"] = hook.property_keys_filter
    return out


def register_webhooks(call: JiraCall, req: Request) -> Response:
    try:
        body = req.json()
    except ValueError:
        return error_collection(400, ["Request body is not valid JSON."])
    if not isinstance(body, dict) or not body.get("url") or not isinstance(body.get("webhooks"), list):
        return error_collection(400, ["The request must contain a url and a list of webhooks."])
    for item in body["webhooks"]:
        if not isinstance(item, dict) or not item.get("events") or not item.get("jqlFilter"):
            return error_collection(400, ["Each webhook must have events and a jqlFilter."])
    results = call.sb.webhook_registry.register(call.cloud_id, call.account_id, body["url"], body["webhooks"])
    return json_response({"webhookRegistrationResult": results})


def list_webhooks(call: JiraCall, req: Request) -> Response:
    hooks = call.sb.webhook_registry.owned(call.cloud_id, call.account_id)
    start, limit = int(req.arg("startAt", "0")), int(req.arg("maxResults", "100"))
    page = hooks[start:start + limit]
    call.points += len(page)
    return json_response({"isLast": start + limit >= len(hooks), "maxResults": limit, "startAt": start,
                          "total": len(hooks), "values": [_webhook_json(h) for h in page]})


def _ids(req: Request) -> list[int] | None:
    try:
        body = req.json()
    except ValueError:
        return None
    ids = body.get("webhookIds") if isinstance(body, dict) else None
    return [int(i) for i in ids] if isinstance(ids, list) else None


def refresh_webhooks(call: JiraCall, req: Request) -> Response:
    ids = _ids(req)
    if ids is None:
        return error_collection(400, ["webhookIds must be provided."])
    expires = call.sb.webhook_registry.refresh(call.cloud_id, call.account_id, ids)
    # The schema says int64 epoch ms (the spec's example shows an ISO string).
    return json_response({"expirationDate": epoch_ms(expires)})


def delete_webhooks(call: JiraCall, req: Request) -> Response:
    ids = _ids(req)
    if ids is None:
        return error_collection(400, ["webhookIds must be provided."])
    call.sb.webhook_registry.delete(call.cloud_id, call.account_id, ids)
    return Response(202)


