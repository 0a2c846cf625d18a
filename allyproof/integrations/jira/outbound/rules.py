"""Sync rules: where each site's violations go, checked against Jira before they are saved (DESIGN §7)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction

from allyproof.core import clock
from allyproof.core import impact as impacts
from allyproof.monitoring.models import Site

from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.errors import JiraError, JiraNotFound
from allyproof.integrations.jira.outbound.job_control import auto_jobs_cancel
from allyproof.integrations.jira.outbound.triage import offered
from allyproof.integrations.jira.models import JiraConnection, SiteSyncRule
from allyproof.integrations.jira.outbound.triage import Offered, Triage
from allyproof.integrations.jira.outbound.triage import problems as triage_problems

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,9}$")
PREFERRED_TYPES = ("Bug", "Task")
# Fields we always send, so a "required" flag on them is no obstacle.
FIELDS_WE_FILL = frozenset({"summary", "project", "issuetype", "description", "labels", "reporter"})


@dataclass(frozen=True)
class RuleInput:
    site_id: int
    enabled: bool
    project_key: str
    severities: frozenset[str]
    issue_type: str  # a name; "" = the default (Bug, else Task, else the first standard type)
    auto_push: bool
    triage: Triage = field(default_factory=Triage)
    # When a scan finds a Jira-resolved violation again: comment only, or comment and reopen the issue.
    regression_policy: str = "comment"


@dataclass
class SaveResult:
    errors: dict[int, list[str]] = field(default_factory=dict)
    saved: int = 0
    projects_changed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def _format_errors(rule: RuleInput) -> list[str]:
    errors = []
    if rule.enabled and not rule.project_key:
        errors.append("An enabled site needs a Jira project key.")
    if rule.project_key and not PROJECT_KEY.match(rule.project_key):
        errors.append(f"{rule.project_key!r} is not a Jira project key (2–10 capitals, digits or _, starting with a letter).")
    if not rule.severities <= set(impacts.VALUES):
        errors.append("Unknown severity.")
    elif rule.enabled and not rule.severities:
        errors.append("Tick at least one severity, or nothing from this site can reach Jira.")
    if rule.regression_policy not in SiteSyncRule.Regression.values:
        errors.append("Choose what happens in Jira when a violation is detected again.")
    return errors


@dataclass(frozen=True)
class ProjectCheck:
    issue_type_id: str
    issue_type_name: str
    problems: tuple[str, ...]
    offer: Offered | None = None  # priorities and components the create screen offers


def check_project(client: JiraClient, project_key: str, issue_type: str) -> ProjectCheck:
    """The issue type we'd use in this project, and what would stop a create. Raises JiraError."""
    client.get_project(project_key)
    types = [t for t in client.create_meta_issue_types(project_key) if not t.get("subtask")]
    by_name = {t["name"].lower(): t for t in types}
    if issue_type:
        chosen = by_name.get(issue_type.lower())
        if chosen is None:
            names = ", ".join(t["name"] for t in types) or "none"
            return ProjectCheck("", issue_type, (f"{project_key} has no issue type {issue_type!r} (it has {names}).",))
    else:
        chosen = next((by_name[n.lower()] for n in PREFERRED_TYPES if n.lower() in by_name), types[0] if types else None)
        if chosen is None:
            return ProjectCheck("", "", (f"You cannot create issues in {project_key} (no issue types available).",))
    fields = client.create_meta_fields(project_key, chosen["id"])
    blockers = [
        f"Jira requires {f.get('name', f['fieldId'])} ({f['fieldId']}) for {chosen['name']} in {project_key}, and AllyProof "
        "cannot fill it: make it optional or give it a default in Jira."
        for f in fields
        if f.get("required") and not f.get("hasDefaultValue") and f.get("fieldId") not in FIELDS_WE_FILL
    ]
    return ProjectCheck(str(chosen["id"]), chosen["name"], tuple(blockers), offered(fields))


def rules_save(*, connection: JiraConnection, inputs: list[RuleInput], by, client: JiraClient) -> SaveResult:
    """All or nothing: every row is checked (format, then Jira) before any is saved."""
    result = SaveResult()
    sites = {s.pk: s for s in Site.objects.filter(organization_id=connection.organization_id, active=True)}
    for rule in inputs:
        if rule.site_id not in sites:
            result.errors.setdefault(rule.site_id, []).append("This site is not one of your active sites.")
            continue
        if problems := _format_errors(rule):
            result.errors[rule.site_id] = problems
    if result.errors:
        return result
    checks: dict[tuple[str, str], ProjectCheck] = {}
    for rule in inputs:
        if not rule.enabled:
            continue
        key = (rule.project_key, rule.issue_type)
        if key not in checks:
            try:
                checks[key] = check_project(client, rule.project_key, rule.issue_type)
            except JiraNotFound:
                checks[key] = ProjectCheck("", "", (f"There is no project {rule.project_key} in {connection.site_name} "
                                                     "(keys are case-sensitive), or you cannot see it.",))
            except JiraError as problem:
                checks[key] = ProjectCheck("", "", (f"Could not check {rule.project_key} in Jira: {problem}",))
        found = list(checks[key].problems)
        if checks[key].offer is not None:  # the same pre-flight for priorities, components, labels
            found += triage_problems(rule.triage, checks[key].offer, project_key=rule.project_key,
                                     issue_type=checks[key].issue_type_name)
        if found:
            result.errors[rule.site_id] = found
    if result.errors:
        return result
    before = _enabled_keys(connection)
    with transaction.atomic():
        for rule in inputs:
            _store(rule, sites[rule.site_id], checks.get((rule.project_key, rule.issue_type)), by)
            result.saved += 1
    result.projects_changed = _enabled_keys(connection) != before
    return result


def _enabled_keys(connection: JiraConnection) -> set[str]:
    return set(SiteSyncRule.objects.filter(site__organization_id=connection.organization_id, site__active=True,
                                           enabled=True).values_list("project_key", flat=True))


def _store(rule: RuleInput, site: Site, check: ProjectCheck | None, by) -> None:
    row, _ = SiteSyncRule.objects.select_for_update().get_or_create(site=site)
    if row.auto_push and not rule.auto_push:
        auto_jobs_cancel(site_id=site.pk)  # Off means off: queued auto jobs now, a running one before its next item
    if rule.auto_push and not row.auto_push:
        # Forward-only: only violations first detected from now on are auto-pushed.
        row.auto_push_since = clock.now()
    elif not rule.auto_push:
        row.auto_push_since = None
    row.enabled, row.project_key, row.auto_push = rule.enabled, rule.project_key, rule.auto_push
    row.regression_policy = rule.regression_policy
    row.severities = [i for i in impacts.VALUES if i in rule.severities]
    row.priorities, row.extra_labels = dict(rule.triage.priorities), list(rule.triage.labels)
    row.components = list(rule.triage.components)
    if check is not None:
        row.issue_type_id, row.issue_type_name, row.problems = check.issue_type_id, check.issue_type_name, []
    elif rule.issue_type != row.issue_type_name:
        row.issue_type_id, row.issue_type_name = "", rule.issue_type
    row.updated_by, row.updated_at = by, clock.now()
    row.save()
