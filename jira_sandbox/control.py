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
        fault = sb.faults.add_delivery(kind=b.get("kind", ""), count=int(b.get("count", 1)), seconds=b.get("seconds"))
    except (ValueError, TypeError) as exc:
        return error_collection(400, [str(exc)])
    return json_response({"id": fault.id, "kind": fault.kind, "remaining": fault.count, "seconds": fault.seconds},
                         201)


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
    """The last 500 requests, or with `?from=N` every request from the N-th on (0-based), so a caller that
    noted the count before a run gets the whole run however long it was."""
    start = req.arg("from")
    records = sb.requests[int(start):] if start is not None and start.isdigit() else sb.requests[-500:]
    return json_response([{k: v for k, v in dataclasses.asdict(r).items() if k != "response"} for r in records])


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


def _act(sb: Sandbox, cloud: str, key: str, b: dict[str, Any]) -> tuple[Any, int]:
    action = b.get("action")
    if action == "transition":
        return sb.transition_issue(cloud, key, b["status"]), 200
    if action == "comment":
        return sb.add_comment(cloud, key, b["text"]), 201
    if action == "edit" and isinstance(b.get("fields"), dict) and b["fields"]:
        return sb.edit_issue(cloud, key, **b["fields"]), 200
    if action == "delete":
        sb.delete_issue(cloud, key)
        return {"deleted": key}, 200
    raise ValueError("action must be transition, comment, edit (with fields) or delete")


def act_on_issue(sb: Sandbox, req: Request) -> Response:
    """Act as a Jira user: {"action": "transition", "status": "Done"} | comment | edit | delete, or
    {"actions": [...]} run in order within one millisecond of the sandbox clock (same webhook timestamp)."""
    b, cloud, key = _body(req), req.params["cloud"], req.params["key"]
    try:
        if isinstance(b.get("actions"), list):
            with sb.same_millisecond():
                results = [_act(sb, cloud, key, a if isinstance(a, dict) else {})[0] for a in b["actions"]]
            return json_response(results)
        result, status = _act(sb, cloud, key, b)
        return json_response(result, status)
    except KeyError as exc:
        return error_collection(400, [f"missing {exc}"])
    except (LookupError, ValueError) as exc:
        return error_collection(404 if isinstance(exc, LookupError) else 400, [str(exc)])


def site_issues(sb: Sandbox, req: Request) -> Response:
    """Every live issue of a site: key, labels, status and its category (checks count issues per label)."""
    try:
        found = sb.issues(req.params["cloud"])
    except LookupError as exc:
        return error_collection(404, [str(exc)])
    return json_response([{"key": i["key"], "labels": i["fields"].get("labels", []),
                           "status": i["fields"]["status"]["name"],
                           "category": i["fields"]["status"]["statusCategory"]["key"]} for i in found])


def site_options(sb: Sandbox, req: Request) -> Response:
    """Per-site behaviour switches: {"search_omits_missing_keys": true} makes search leave a missing
    key out of its answer instead of refusing the whole query with 400 (Jira has done both);
    {"webhooks_omit_status_change_date": true} sends webhook bodies without statuscategorychangedate."""
    b = _body(req)
    site = sb.cfg.site(req.params["cloud"])
    if site is None:
        return error_collection(404, [f"No site with cloud id {req.params['cloud']}"])
    for name in ("search_omits_missing_keys", "webhooks_omit_status_change_date"):
        if name in b:
            setattr(site, name, bool(b[name]))
    return json_response({"search_omits_missing_keys": site.search_omits_missing_keys,
                          "webhooks_omit_status_change_date": site.webhooks_omit_status_change_date})


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
    ("POST", "sites/{cloud}/issues/{key}", act_on_issue), ("GET", "sites/{cloud}/issues", site_issues), ("POST", "sites/{cloud}/options", site_options),
    ("POST", "expire-access-tokens", expire_tokens),
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
