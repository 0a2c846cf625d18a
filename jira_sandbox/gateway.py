"""api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...: authentication, site access, scopes,
conformance, rate limits, then the operation's handler."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import api_issues as issues
from . import api_links as links
from . import api_search as search
from .api_context import JiraCall
from .conformance import Failure, Operation
from .ratelimit import Verdict
from .web import Request, Response, Route, Router, error_collection, json_response

if TYPE_CHECKING:
    from .app import Sandbox

PREFIX = re.compile(r"^/ex/jira/(?P<cloud>[^/]+)(?P<rest>/.*)$")
READ, WRITE = ["read:jira-work"], ["write:jira-work"]
WEBHOOK_SCOPES = ["read:jira-work", "manage:jira-webhook"]

# (method, path template, handler, scopes when the OpenAPI document is absent)
ROUTES: list[tuple[str, str, Any, list[str]]] = [
    ("GET", "/rest/api/3/project/search", issues.project_search, READ),  # before project/{key}
    ("GET", "/rest/api/3/project/{projectIdOrKey}", issues.get_project, READ),
    ("GET", "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes", issues.createmeta_issuetypes, READ),
    ("GET", "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
     issues.createmeta_fields, READ),
    ("POST", "/rest/api/3/issue", issues.create_issue, WRITE),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}", issues.get_issue, READ),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}", issues.edit_issue, WRITE),
    ("DELETE", "/rest/api/3/issue/{issueIdOrKey}", issues.delete_issue, WRITE),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/comment", issues.get_comments, READ),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/comment", issues.add_comment, WRITE),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/properties", issues.property_keys, READ),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", issues.get_property, READ),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", issues.set_property, WRITE),
    ("DELETE", "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", issues.delete_property, WRITE),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions", issues.get_transitions, READ),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions", issues.do_transition, WRITE),
    ("GET", "/rest/api/3/search/jql", search.search_get, READ),
    ("POST", "/rest/api/3/search/jql", search.search_post, READ),
    ("POST", "/rest/api/3/webhook", search.register_webhooks, WEBHOOK_SCOPES),
    ("GET", "/rest/api/3/webhook", search.list_webhooks, WEBHOOK_SCOPES),
    ("PUT", "/rest/api/3/webhook/refresh", search.refresh_webhooks, WEBHOOK_SCOPES),
    ("DELETE", "/rest/api/3/webhook", search.delete_webhooks, WEBHOOK_SCOPES),
    ("GET", "/rest/api/3/myself", issues.myself, ["read:jira-user"]),
    ("GET", "/rest/api/3/issueLinkType", links.get_link_types, READ),
    ("POST", "/rest/api/3/issueLink", links.create_link, WRITE),
]
ROUTER = Router([Route(m, t, h) for m, t, h, _ in ROUTES])
FALLBACK_SCOPES = {(m, t): s for m, t, _, s in ROUTES}


def _gateway_error(status: int, message: str) -> Response:
    # The API gateway answers auth problems in its own shape, not Jira's ErrorCollection.
    return json_response({"code": status, "message": message}, status)


def handle(sb: Sandbox, req: Request, record: Any) -> Response:
    m = PREFIX.match(req.path)
    cloud_id, api_path = m.group("cloud"), m.group("rest")
    record.cloud_id = cloud_id
    token = sb.oauth.authenticate(req.headers.get("authorization"))
    if token is None:
        return _gateway_error(401, "Unauthorized")
    grant = sb.oauth.store.grants[token.grant_id]
    site = sb.cfg.site(cloud_id)
    if site is None or cloud_id not in grant.cloud_ids:
        return _gateway_error(404, "Not Found")
    route, params, path_known = ROUTER.match(req.method, api_path)
    if route is None:
        status = 405 if path_known else 404
        return error_collection(status, [f"The Jira sandbox does not implement {req.method} {api_path}"])
    op = sb.conformance.find(req.method, api_path) if sb.conformance.enabled else None
    if sb.conformance.enabled and op is None:  # served but not documented: it must not pass unchecked
        sb.conformance.record(Failure("request", req.method, req.path, None,
                                      "not an operation of Atlassian's OpenAPI document", sb.clock.now()))
    if not _scopes_ok(token.scopes, op, req.method, route.template):
        return _gateway_error(401, "Unauthorized; scope does not match")
    bad = _request_conformance(sb, req, op, api_path)
    if bad is not None:
        return bad
    issue_ref = params.get("issueIdOrKey")
    verdict = sb.rate_limiter.check(now=sb.clock.now(), app=sb.cfg.client_id, cloud_id=cloud_id,
                                    method=req.method, template=route.template, issue=issue_ref)
    if verdict.reason:
        return _rate_limited(verdict)
    call = JiraCall(sb, site, sb.state.sites[cloud_id], grant.account_id, params)
    with sb.lock:
        resp = route.handler(call, req)
    for problem in call.conformance:
        sb.conformance.record(Failure("adf", req.method, req.path, op.id if op else None, problem, sb.clock.now()))
    # Atlassian: base 1 point + 1 per core object a read returns; writes cost the base only.
    points = (2 if call.points == 1 else call.points) if req.method == "GET" else 1
    sb.rate_limiter.charge(now=sb.clock.now(), app=sb.cfg.client_id, cloud_id=cloud_id, points=points)
    resp.headers.update(sb.rate_limiter.quota_headers(sb.clock.now(), sb.cfg.client_id, cloud_id))
    _response_conformance(sb, req, op, resp)
    return resp


def _scopes_ok(granted: list[str], op: Operation | None, method: str, template: str) -> bool:
    alternatives = op.scopes() if op is not None else []
    if not alternatives:
        alternatives = [FALLBACK_SCOPES[(method, template)]]
    return any(all(s in granted for s in needed) for needed in alternatives)


def _request_conformance(sb: Sandbox, req: Request, op: Operation | None, api_path: str) -> Response | None:
    if op is None:
        return None
    try:
        body = req.json()
    except ValueError:
        body = None
    errors = sb.conformance.request_errors(op, req.query, body, bool(req.body.strip()))
    if not errors:
        return None
    message = (f"The request does not conform to Jira's OpenAPI document (operation {op.id}): "
               + "; ".join(errors[:5]))
    sb.conformance.record(Failure("request", req.method, req.path, op.id, "; ".join(errors), sb.clock.now()))
    return error_collection(400, [message])


def _response_conformance(sb: Sandbox, req: Request, op: Operation | None, resp: Response) -> None:
    if op is None:
        return
    for problem in sb.conformance.response_errors(op, resp.status, resp.data):
        sb.conformance.record(Failure("response", req.method, req.path, op.id,
                                      f"status {resp.status}: {problem}", sb.clock.now()))


def _rate_limited(verdict: Verdict) -> Response:
    resp = error_collection(429, ["Rate limit exceeded."])
    resp.headers.update(verdict.headers)
    return resp
