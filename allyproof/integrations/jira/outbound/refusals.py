"""Which refusals of a create are about the site's rule, not the item (the circuit breaker, DESIGN §8).

A rule-level refusal (a required field we cannot fill, the issue type or project gone, no permission
to create) fails every remaining item the same way, so the job stops for that site after the first one
with one message. An item-level refusal (this item's summary, description or labels) fails that item
only. Decided by the fields of Jira's ErrorCollection, never by its message text (Jira translates it).
Pure: plain values in, a sentence (or None) out; only field_names, last, asks Jira for the names.
"""

from __future__ import annotations

from collections.abc import Mapping

from allyproof.integrations.jira.connection.errors import (
    JiraAuthError,
    JiraError,
    JiraNotFound,
    JiraValidationError,
)

# Fields whose values come from the item: a refusal of one of them is about that item.
ITEM_FIELDS = frozenset({"summary", "description", "labels", "environment"})
FIX = "fix it in Jira or in Sync rules, then Retry failed"


def _field_problem(field: str, *, project_key: str, issue_type: str, names: Mapping[str, str]) -> str:
    if field == "project":
        return f"Jira no longer has the project {project_key} (or we may not see it) — {FIX}"
    if field == "issuetype":
        return f"Jira no longer offers the issue type {issue_type} in {project_key} — {FIX}"
    return f"Jira now requires {names.get(field, field)} for {issue_type} in {project_key} — {FIX}"


def rule_level(error: JiraError, *, project_key: str, issue_type: str,
               names: Mapping[str, str] | None = None) -> str | None:
    """The message for the job and the sync-rules row when `error` is about the rule; None otherwise."""
    names = names or {}
    if isinstance(error, JiraAuthError) and not error.token_refused:
        return f"Jira does not let us create issues in {project_key} — {FIX}"
    if isinstance(error, JiraNotFound):
        return _field_problem("project", project_key=project_key, issue_type=issue_type, names=names)
    if not isinstance(error, JiraValidationError):
        return None
    rule_fields = sorted(set(error.errors) - ITEM_FIELDS)
    if not rule_fields:
        return None
    for first in ("project", "issuetype"):  # the most basic problem first: nothing else matters then
        if first in rule_fields:
            return _field_problem(first, project_key=project_key, issue_type=issue_type, names=names)
    if len(rule_fields) == 1:
        return _field_problem(rule_fields[0], project_key=project_key, issue_type=issue_type, names=names)
    listed = ", ".join(names.get(f, f) for f in rule_fields)
    return f"Jira now requires {listed} for {issue_type} in {project_key} — {FIX}"


def needs_field_names(error: JiraError) -> list[str]:
    """Custom fields a message should name (looked up in createmeta by the caller)."""
    if not isinstance(error, JiraValidationError):
        return []
    return sorted(set(error.errors) - ITEM_FIELDS - {"project", "issuetype"})


def field_names(client, project: str, rule, fields: list[str]) -> dict[str, str]:
    """Jira's names for the fields a refusal named, from createmeta (ids when Jira will not say).

    The one call to Jira here: the messages above read better with "Cost centre" than "customfield_10042"."""
    if not fields or rule is None or not rule.issue_type_id:
        return {}
    try:
        meta = client.create_meta_fields(project, rule.issue_type_id)
    except JiraError:
        return {}
    return {f["fieldId"]: f.get("name", f["fieldId"]) for f in meta if f.get("fieldId") in fields}
