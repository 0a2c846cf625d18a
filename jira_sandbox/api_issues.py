"""Jira REST v3: project, createmeta, issues, comments, properties, transitions."""
from __future__ import annotations

import json
from typing import Any

from . import adf, validation
from .api_context import JiraCall
from .issues import NotFound
from .present import comment_json, issuetype_json, parse_fields_param, project_json, project_ref_json, status_json
from .web import Request, Response, empty_response, error_collection, json_response

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


def _body(req: Request) -> Any:
    try:
        return req.json()
    except ValueError:
        return _MALFORMED


_MALFORMED = object()


def _malformed() -> Response:
    return error_collection(400, ["Unexpected character in the request body: it is not valid JSON."])


def get_project(call: JiraCall, req: Request) -> Response:
    key = call.params["projectIdOrKey"]
    project = call.site_state.project(key)  # keys are case-sensitive here
    if project is None:
        return error_collection(404, [f"No project could be found with key '{key}'."])
    return json_response(project_json(call.sb.cfg, call.site, project))


def project_search(call: JiraCall, req: Request) -> Response:
    """GET project/search: a page of projects, filtered by `query` (key or name, case-insensitive) and,
    with action=create, to projects the user can create issues in (here: those with an issue type)."""
    query = req.arg("query", "").lower()
    action = req.arg("action", "view")
    found = [p for p in call.site_state.projects
             if (not query or query in p.key.lower() or query in p.name.lower())
             and (action != "create" or p.issue_types)]
    found.sort(key=lambda p: p.name.lower())
    start, limit = int(req.arg("startAt", "0")), min(int(req.arg("maxResults", "50")), 100)
    page = found[start:start + limit]
    base = f"{call.site.url}/rest/api/3/project/search"
    body: dict[str, Any] = {"self": f"{base}?startAt={start}&maxResults={limit}", "maxResults": limit,
                            "startAt": start, "total": len(found), "isLast": start + len(page) >= len(found),
                            "values": [project_ref_json(call.site, p) for p in page]}
    if not body["isLast"]:
        body["nextPage"] = f"{base}?startAt={start + limit}&maxResults={limit}"
    return json_response(body)


def _project_or_404(call: JiraCall) -> Any:
    key = call.params["projectIdOrKey"]
    project = call.site_state.project(key)
    return project, (None if project else error_collection(404, [f"No project could be found with key '{key}'."]))


def createmeta_issuetypes(call: JiraCall, req: Request) -> Response:
    project, missing = _project_or_404(call)
    if missing:
        return missing
    cfg = call.sb.cfg
    types = [cfg.issue_type(n) for n in project.issue_types if cfg.issue_type(n)]
    start, limit = int(req.arg("startAt", "0")), int(req.arg("maxResults", "50"))
    page = [issuetype_json(call.site, t) for t in types[start:start + limit]]
    return json_response({"issueTypes": page, "maxResults": limit, "startAt": start, "total": len(types)})


def _field_meta(field_id: str, name: str, required: bool, has_default: bool, schema_type: str,
                system: bool = True) -> dict[str, Any]:
    schema = {"type": schema_type, "system": field_id} if system else {
        "type": schema_type, "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        "customId": int(field_id.split("_")[-1]) if field_id.split("_")[-1].isdigit() else 0}
    return {"fieldId": field_id, "key": field_id, "name": name, "required": required,
            "hasDefaultValue": has_default, "operations": ["set"], "schema": schema}


BASE_FIELDS = [  # (id, name, required, hasDefaultValue, type) as on Jira's default create screen
    ("issuetype", "Issue Type", True, False, "issuetype"),
    ("project", "Project", True, False, "project"),
    ("summary", "Summary", True, False, "string"),
    ("description", "Description", False, False, "string"),
    ("reporter", "Reporter", True, True, "user"),
    ("priority", "Priority", False, True, "priority"),
    ("labels", "Labels", False, False, "array"),
]


# Jira Cloud's default priority scheme.
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]


def _allowed_values(call: JiraCall, project: Any, field: dict[str, Any]) -> dict[str, Any]:
    site = call.site.url
    if field["fieldId"] == "priority":
        field["allowedValues"] = [{"self": f"{site}/rest/api/3/priority/{i}", "id": i, "name": n} for i, n in PRIORITIES]
        field["defaultValue"] = {"self": f"{site}/rest/api/3/priority/3", "id": "3", "name": "Medium"}
    elif field["fieldId"] == "components":
        field["allowedValues"] = [{"self": f"{site}/rest/api/3/component/{10100 + i}", "id": str(10100 + i), "name": n}
                                  for i, n in enumerate(project.components)]
    return field


def createmeta_fields(call: JiraCall, req: Request) -> Response:
    project, missing = _project_or_404(call)
    if missing:
        return missing
    it = call.sb.cfg.issue_type(call.params["issueTypeId"])
    if it is None or it.id != call.params["issueTypeId"] or it.name not in project.issue_types:
        return error_collection(400, ["The issue type ID is invalid or not valid for this project."])
    fields = [_allowed_values(call, project, _field_meta(*f)) for f in BASE_FIELDS]
    if project.components:
        fields.append(_allowed_values(call, project, _field_meta("components", "Components", False, False, "array")))
    fields += [_field_meta(f.field_id, f.name, True, f.has_default, f.schema_type,
                           system=not f.field_id.startswith("customfield_"))
               for f in project.required_fields.get(it.name, [])]
    start, limit = int(req.arg("startAt", "0")), int(req.arg("maxResults", "50"))
    return json_response({"fields": fields[start:start + limit], "maxResults": limit, "startAt": start,
                          "total": len(fields)})


def create_issue(call: JiraCall, req: Request) -> Response:
    body = _body(req)
    if body is _MALFORMED:
        return _malformed()
    check = validation.check_create(call.sb.cfg, call.site_state, body, call.sb.adf)
    if check.errors or check.messages:
        return error_collection(400, check.messages, check.errors)
    if check.conformance:
        call.conformance.extend(check.conformance)
        return error_collection(400, check.conformance)
    fields = dict(body["fields"])
    issue = call.issues.create(
        call.cloud_id, project_key=check.project.key, issuetype_id=check.issue_type.id,
        summary=fields.pop("summary"), actor_id=call.account_id, description=fields.pop("description", None),
        labels=fields.pop("labels", []),
        other_fields={k: v for k, v in fields.items() if k not in ("project", "issuetype")},
        properties={p["key"]: p["value"] for p in body.get("properties") or []})
    return json_response({"id": issue.id, "key": issue.key,
                          "self": f"{call.site.url}/rest/api/3/issue/{issue.id}"}, 201)


def _issue_or_404(call: JiraCall) -> Any:
    try:
        return call.issues.find(call.cloud_id, call.params["issueIdOrKey"]), None
    except NotFound:
        return None, error_collection(404, [ISSUE_NOT_FOUND])


def get_issue(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    data = call.issues.to_json(issue, fields=parse_fields_param(req.query.get("fields")))
    wanted = parse_fields_param(req.query.get("properties")) or []
    if wanted:
        data["properties"] = {k: v for k, v in issue.properties.items() if k in wanted or "*all" in wanted}
    return json_response(data)


def edit_issue(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    body = _body(req)
    if body is _MALFORMED:
        return _malformed()
    changes = dict((body or {}).get("fields") or {})
    for op in ((body or {}).get("update") or {}).get("labels", []):
        labels = list(changes.get("labels", issue.labels))
        if "add" in op and op["add"] not in labels:
            labels.append(op["add"])
        if "remove" in op and op["remove"] in labels:
            labels.remove(op["remove"])
        changes["labels"] = labels
    errors = {k: e for k, v in changes.items() if k in validation.FIELD_CHECKS
              and (e := validation.FIELD_CHECKS[k](v))}
    if errors:
        return error_collection(400, [], errors)
    for name in validation.RICH_TEXT_FIELDS:
        if changes.get(name) is not None and (problem := call.sb.adf.error(changes[name])):
            call.conformance.append(f"fields.{name} does not conform to the ADF schema {problem}")
    if call.conformance:
        return error_collection(400, call.conformance)
    call.issues.edit(call.cloud_id, issue.key, changes, call.account_id)
    return empty_response(204)


def delete_issue(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    call.issues.delete(call.cloud_id, issue.key, call.account_id)
    return empty_response(204)


def get_comments(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    comments = [comment_json(call.sb.cfg, call.site, issue, c) for c in issue.comments]
    start, limit = int(req.arg("startAt", "0")), int(req.arg("maxResults", "5000"))
    call.points += len(comments[start:start + limit])
    return json_response({"startAt": start, "maxResults": limit, "total": len(comments),
                          "comments": comments[start:start + limit]})


def add_comment(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    body = _body(req)
    if body is _MALFORMED:
        return _malformed()
    content = body.get("body") if isinstance(body, dict) else None
    if content is None:
        return error_collection(400, [], {"comment": "Comment body can not be empty!"})
    problem = adf.structural_error(content) or (adf.TOO_LONG if adf.too_long(content) else None)
    if problem:
        return error_collection(400, [], {"comment": problem})
    schema_problem = call.sb.adf.error(content)
    if schema_problem:
        call.conformance.append(f"body does not conform to the ADF schema {schema_problem}")
        return error_collection(400, call.conformance)
    c = call.issues.comment(call.cloud_id, issue.key, content, call.account_id)
    return json_response(comment_json(call.sb.cfg, call.site, issue, c), 201)


def property_keys(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    base = f"{call.site.url}/rest/api/3/issue/{issue.key}/properties"
    return json_response({"keys": [{"key": k, "self": f"{base}/{k}"} for k in issue.properties]})


def get_property(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    key = call.params["propertyKey"]
    if key not in issue.properties:
        return error_collection(404, [f"The property with key '{key}' does not exist."])
    return json_response({"key": key, "value": issue.properties[key]})


def set_property(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    key, body = call.params["propertyKey"], _body(req)
    if body is _MALFORMED or not req.body.strip():
        return error_collection(400, ["The property value must be a valid, non-empty JSON value."])
    if len(key) > validation.PROPERTY_KEY_MAX:
        return error_collection(400, ["The property key can't be longer than 255 characters."])
    if len(json.dumps(body)) > validation.PROPERTY_VALUE_MAX:
        return error_collection(400, ["The property value can't be longer than 32768 characters."])
    created = call.issues.set_property(call.cloud_id, issue.key, key, body, call.account_id)
    return empty_response(201 if created else 200)


def delete_property(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    try:
        call.issues.delete_property(call.cloud_id, issue.key, call.params["propertyKey"], call.account_id)
    except NotFound as exc:
        return error_collection(404, [str(exc)])
    return empty_response(204)


def _available(call: JiraCall, issue: Any) -> list[Any]:
    # Global transitions into the status the issue is already in are not offered.
    cfg = call.sb.cfg
    return [t for t in cfg.transitions if cfg.status_by_name(t.to).id != issue.status_id]


def get_transitions(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    cfg = call.sb.cfg
    out = [{"id": t.id, "name": t.name, "to": status_json(call.site, cfg.status_by_name(t.to)),
            "hasScreen": False, "isGlobal": True, "isInitial": False, "isAvailable": True,
            "isConditional": False, "isLooped": False} for t in _available(call, issue)]
    return json_response({"expand": "transitions", "transitions": out})


def do_transition(call: JiraCall, req: Request) -> Response:
    issue, missing = _issue_or_404(call)
    if missing:
        return missing
    body = _body(req)
    if body is _MALFORMED:
        return _malformed()
    tid = ((body or {}).get("transition") or {}).get("id")
    if not tid:
        return error_collection(400, ["Missing 'transition' identifier"])
    chosen = next((t for t in _available(call, issue) if t.id == str(tid)), None)
    if chosen is None:
        return error_collection(400, [f"Transition id '{tid}' is not valid for this issue."])
    call.issues.transition(call.cloud_id, issue.key, chosen.to, call.account_id)
    return empty_response(204)


def myself(call: JiraCall, req: Request) -> Response:
    from .present import user_json
    return json_response(user_json(call.site, call.sb.cfg.account(call.account_id), call.account_id))
