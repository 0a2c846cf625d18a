"""Jira REST v3: issue link types and issue links (what "Duplicate" links are made of)."""
from __future__ import annotations

from typing import Any

from .api_context import JiraCall
from .issues import NotFound
from .web import Request, Response, error_collection, json_response

# A fresh Jira Cloud site's link types (ids as Jira numbers them).
DEFAULT_LINK_TYPES = [
    {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
    {"id": "10001", "name": "Cloners", "inward": "is cloned by", "outward": "clones"},
    {"id": "10002", "name": "Duplicate", "inward": "is duplicated by", "outward": "duplicates"},
    {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"},
]


def link_types_for(sb: Any, cloud_id: str) -> list[dict[str, str]]:
    return sb.link_types.get(cloud_id, DEFAULT_LINK_TYPES)


def _type_json(call: JiraCall, t: dict[str, str]) -> dict[str, str]:
    return {**t, "self": f"{call.site.url}/rest/api/3/issueLinkType/{t['id']}"}


def get_link_types(call: JiraCall, req: Request) -> Response:
    return json_response({"issueLinkTypes": [_type_json(call, t) for t in link_types_for(call.sb, call.cloud_id)]})


def _issue(call: JiraCall, ref: Any) -> Any:
    ref = ref if isinstance(ref, dict) else {}
    return call.issues.find(call.cloud_id, str(ref.get("key") or ref.get("id") or ""))


def create_link(call: JiraCall, req: Request) -> Response:
    try:
        body = req.json() or {}
    except ValueError:
        return error_collection(400, ["Unexpected character in the request body: it is not valid JSON."])
    wanted = body.get("type") or {}
    chosen = next((t for t in link_types_for(call.sb, call.cloud_id)
                   if t["id"] == str(wanted.get("id", "")) or t["name"] == wanted.get("name")), None)
    if chosen is None:
        return error_collection(404, ["No issue link type with name or id given was found."])
    try:
        inward, outward = _issue(call, body.get("inwardIssue")), _issue(call, body.get("outwardIssue"))
    except NotFound:
        return error_collection(404, ["Issue does not exist or you do not have permission to see it."])
    with call.sb.lock:
        link = {"id": str(10000 + len(call.sb.issue_links)), "cloud_id": call.cloud_id, "type": chosen["name"],
                "inward": inward.key, "outward": outward.key, "created": call.sb.clock.now()}
        call.sb.issue_links.append(link)
    comment = body.get("comment")
    if isinstance(comment, dict) and comment.get("body"):
        call.issues.comment(call.cloud_id, outward.key, comment["body"], call.account_id)
    return json_response({}, 201)
