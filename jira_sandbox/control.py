"""HTTP control endpoints under /_sandbox/ (a prefix Jira does not use) for tests and the demo."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .web import Request, Response, Route, Router, error_collection, json_response

if TYPE_CHECKING:
    from .app import Sandbox

PREFIX = "/_sandbox/"


def _body(req: Request) -> dict[str, Any]:
    try:
        data = req.json()
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def add_fault(sb: Sandbox, req: Request) -> Response:
    b = _body(req)
    try:
        fault = sb.faults.add(kind=b.get("kind", ""), path=b.get("path", ".*"), method=b.get("method"),
                              count=int(b.get("count", 1)), status=b.get("status"), seconds=b.get("seconds"),
                              reason=b.get("reason"), retry_after=b.get("retry_after"),
                              commit_after=b.get("commit_after"))
    except (ValueError, TypeError) as exc:
        return error_collection(400, [str(exc)])
    return json_response(fault.as_dict(), 201)


def add_delivery_fault(sb: Sandbox, req: Request) -> Response:
    b = _body(req)
    try:
        fault = sb.faults.add_delivery(kind=b.get("kind", ""), count=int(b.get("count", 1)))
    except ValueError as exc:
        return error_collection(400, [str(exc)])
    return json_response({"id": fault.id, "kind": fault.kind, "remaining": fault.count}, 201)


def clear_faults(sb: Sandbox, req: Request) -> Response:
    sb.faults.clear()
    return json_response({"faults": []})


def clock(sb: Sandbox, req: Request) -> Response:
    return json_response({"now": sb.clock.now(), "frozen": sb.clock.frozen})


def advance_clock(sb: Sandbox, req: Request) -> Response:
    b = _body(req)
    if b.get("freeze"):
        sb.clock.freeze()
    now = sb.clock.advance(float(b.get("seconds", 0)))
    sb.commit_due()  # held (late_commit) writes whose time has come
    return json_response({"now": now, "frozen": sb.clock.frozen})


def deliver(sb: Sandbox, req: Request) -> Response:
    return json_response({"attempts": sb.deliver_pending(), "pending": sb.pending_deliveries})


def deliveries(sb: Sandbox, req: Request) -> Response:
    return json_response([dataclasses.asdict(a) for a in sb.deliveries])


def conformance(sb: Sandbox, req: Request) -> Response:
    return json_response({"enabled": sb.conformance.enabled,
                          "failures": [dataclasses.asdict(f) for f in sb.conformance.failures]})


def requests_log(sb: Sandbox, req: Request) -> Response:
    return json_response([{k: v for k, v in dataclasses.asdict(r).items() if k != "response"}
                          for r in sb.requests[-500:]])


def set_auto_approve(sb: Sandbox, req: Request) -> Response:
    sb.auto_approve = bool(_body(req).get("enabled", True))
    return json_response({"auto_approve": sb.auto_approve})


def required_field(sb: Sandbox, req: Request) -> Response:
    b = _body(req)
    try:
        sb.set_required_field(b.get("cloud_id"), b["project_key"], b["issue_type"], b["field_id"], b["name"],
                              bool(b.get("has_default", False)))
    except (KeyError, AttributeError) as exc:
        return error_collection(400, [f"missing or unknown: {exc}"])
    return json_response({"ok": True}, 201)


def act_on_issue(sb: Sandbox, req: Request) -> Response:
    """Act as a Jira user: {"action": "transition", "status": "Done"} | comment | delete."""
    b, cloud, key = _body(req), req.params["cloud"], req.params["key"]
    action = b.get("action")
    try:
        if action == "transition":
            return json_response(sb.transition_issue(cloud, key, b["status"]))
        if action == "comment":
            return json_response(sb.add_comment(cloud, key, b["text"]), 201)
        if action == "delete":
            sb.delete_issue(cloud, key)
            return json_response({"deleted": key})
    except (LookupError, ValueError) as exc:
        return error_collection(404 if isinstance(exc, LookupError) else 400, [str(exc)])
    return error_collection(400, ["action must be transition, comment or delete"])


def search_lag(sb: Sandbox, req: Request) -> Response:
    b = _body(req)
    try:
        sb.set_search_lag(b.get("cloud_id"), float(b.get("seconds", 0)))
    except (ValueError, TypeError, LookupError) as exc:
        return error_collection(400, [str(exc)])
    return json_response({"seconds": float(b.get("seconds", 0))})


def commit_due(sb: Sandbox, req: Request) -> Response:
    return json_response({"committed": sb.commit_due(), "held": sb.late_pending})


def link_types(sb: Sandbox, req: Request) -> Response:
    names = _body(req).get("names")
    if not isinstance(names, list):
        return error_collection(400, ["names must be a list of link type names"])
    sb.set_link_types(_body(req).get("cloud_id"), [str(n) for n in names])
    return json_response({"names": names})


def issue_links(sb: Sandbox, req: Request) -> Response:
    return json_response(sb.issue_links)


def expire_tokens(sb: Sandbox, req: Request) -> Response:
    sb.expire_access_tokens()
    return json_response({"ok": True})


ROUTES = [
    ("POST", "faults", add_fault), ("GET", "faults", lambda sb, r: json_response(sb.faults.pending())),
    ("DELETE", "faults", clear_faults), ("POST", "delivery-faults", add_delivery_fault),
    ("GET", "clock", clock), ("POST", "clock/advance", advance_clock),
    ("POST", "deliver", deliver), ("GET", "deliveries", deliveries),
    ("GET", "conformance", conformance), ("GET", "requests", requests_log),
    ("POST", "auto-approve", set_auto_approve), ("POST", "required-fields", required_field),
    ("POST", "sites/{cloud}/issues/{key}", act_on_issue), ("POST", "expire-access-tokens", expire_tokens),
    ("POST", "search-lag", search_lag), ("POST", "commit-due", commit_due),
    ("POST", "link-types", link_types), ("GET", "issue-links", issue_links),
]


def handle(sb: Sandbox, req: Request) -> Response:
    router = Router([Route(m, PREFIX + p, h) for m, p, h in ROUTES])
    route, params, known = router.match(req.method, req.path)
    if route is None:
        return error_collection(405 if known else 404, [f"No control endpoint {req.method} {req.path}"])
    req.params = params
    return route.handler(sb, req)
