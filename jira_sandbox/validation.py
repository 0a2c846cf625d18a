"""POST issue validation, table-driven, with the messages Jira Cloud puts in its ErrorCollection."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from . import adf
from .config import IssueType, Project, SandboxConfig
from .state import SiteState

SUMMARY_MAX = 255
LABEL_MAX = 255
PROPERTY_KEY_MAX = 255
PROPERTY_VALUE_MAX = 32768
RICH_TEXT_FIELDS = ("description", "environment")
# Fields on the default create screen; anything else is "not on the appropriate screen".
SCREEN_FIELDS = {"project", "issuetype", "summary", "description", "environment", "labels", "priority",
                 "reporter", "assignee", "parent", "components", "duedate", "fixVersions", "versions"}


@dataclass
class CreateCheck:
    errors: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    conformance: list[str] = field(default_factory=list)  # ADF schema mismatches
    project: Project | None = None
    issue_type: IssueType | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not self.messages and not self.conformance


def resolve_project(site: SiteState, value: Any) -> Project | None:
    if not isinstance(value, dict):
        return None
    if "key" in value:
        return next((p for p in site.projects if p.key == str(value["key"]).upper()), None)
    if "id" in value:
        return next((p for p in site.projects if p.id == str(value["id"])), None)
    return None


def resolve_issue_type(cfg: SandboxConfig, project: Project, value: Any) -> tuple[IssueType | None, str | None]:
    if not isinstance(value, dict) or not ({"id", "name"} & set(value)):
        return None, "Specify an issue type"
    it = cfg.issue_type(str(value.get("id") or value.get("name")))
    if value.get("id") is not None and it is not None and it.id != str(value["id"]):
        it = None
    if it is None or it.name not in project.issue_types:
        return None, "The issue type selected is invalid."
    return it, None


def check_summary(v: Any) -> str | None:
    if not isinstance(v, str) or not v.strip():
        return "You must specify a summary of the issue."
    if "\n" in v or "\r" in v:
        return "The summary is invalid because it contains newline characters."
    if len(v) > SUMMARY_MAX:
        return "Summary must be less than 255 characters."
    return None


def check_labels(v: Any) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return "Field 'labels' is invalid: expected an array of strings."
    for label in v:
        if not label or " " in label:
            return f"The label '{label}' contains spaces which is invalid."
        if len(label) > LABEL_MAX:
            return f"The label '{label}' exceeds the maximum length for a single label of 255 characters."
    return None


def check_rich_text(v: Any) -> str | None:
    if v is None:
        return None
    problem = adf.structural_error(v)
    if problem:
        return problem
    return adf.TOO_LONG if adf.too_long(v) else None


FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "summary": check_summary,
    "labels": check_labels,
    "description": check_rich_text,
    "environment": check_rich_text,
}


def check_properties(props: Any) -> list[str]:
    if props is None:
        return []
    if not isinstance(props, list):
        return ["The properties must be a list of {key, value}."]
    out = []
    for prop in props:
        key = prop.get("key") if isinstance(prop, dict) else None
        if not key:
            out.append("The property key cannot be empty.")
        elif len(key) > PROPERTY_KEY_MAX:
            out.append("The property key can't be longer than 255 characters.")
        elif len(json.dumps(prop.get("value"))) > PROPERTY_VALUE_MAX:
            out.append("The property value can't be longer than 32768 characters.")
    return out


def check_create(cfg: SandboxConfig, site: SiteState, body: Any, schema: adf.AdfSchema) -> CreateCheck:
    result = CreateCheck()
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        result.messages.append("Can not deserialize instance of fields: an object is required.")
        return result
    result.project = resolve_project(site, fields.get("project"))
    if result.project is None:
        # Jira stops here: nothing else can be checked without a project.
        key = "Specify a valid project ID or key" if "project" not in fields else "valid project is required"
        result.errors["project"] = key
        return result
    result.issue_type, type_error = resolve_issue_type(cfg, result.project, fields.get("issuetype"))
    if type_error:
        result.errors["issuetype"] = type_error
    for name, value in fields.items():
        error = _check_field(result, name, value)
        if error:
            result.errors[name] = error
    if "summary" not in fields:
        result.errors["summary"] = "You must specify a summary of the issue."
    if result.issue_type is not None:
        _check_required(result, fields)
        _check_adf_schema(result, fields, schema)
    result.messages.extend(check_properties(body.get("properties")))
    return result


def _check_field(result: CreateCheck, name: str, value: Any) -> str | None:
    if name in ("project", "issuetype"):
        return None
    if name in FIELD_CHECKS:
        return FIELD_CHECKS[name](value)
    if name == "priority":
        return _check_priority(value)
    if name == "components":
        return _check_components(result.project, value)
    known = {f.field_id for fs in result.project.required_fields.values() for f in fs}
    if name not in SCREEN_FIELDS and name not in known:
        return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
    if name == "parent" and result.issue_type and not result.issue_type.subtask:
        return None
    return None


_PRIORITIES = {("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")}


def _check_priority(value: Any) -> str | None:
    if not isinstance(value, dict) or not any(value.get("id") == i or value.get("name") == n for i, n in _PRIORITIES):
        return "Specify a valid priority id or name."
    return None


def _check_components(project: Project, value: Any) -> str | None:
    ids = {str(10100 + i) for i in range(len(project.components))}
    if not isinstance(value, list) or not all(isinstance(c, dict) and (c.get("id") in ids or c.get("name") in project.components)
                                              for c in value):
        return "Component name or id is not valid."
    return None


def _check_required(result: CreateCheck, fields: dict[str, Any]) -> None:
    if result.issue_type.subtask and "parent" not in fields:
        result.errors["parent"] = "Issue type is a sub-task but parent issue key or id not specified."
    for req in result.project.required_fields.get(result.issue_type.name, []):
        if req.has_default:
            continue  # Jira fills a default in; only required fields without one fail the create
        value = fields.get(req.field_id)
        if value is None or value == "" or value == []:
            result.errors[req.field_id] = f"{req.name} is required."


def _check_adf_schema(result: CreateCheck, fields: dict[str, Any], schema: adf.AdfSchema) -> None:
    for name in RICH_TEXT_FIELDS:
        if name in fields and name not in result.errors and fields[name] is not None:
            problem = schema.error(fields[name])
            if problem:
                result.conformance.append(f"fields.{name} does not conform to the ADF schema {problem}")
