"""Which refusals are about the rule (stop the site) and which about the item (fail it alone): by field."""

import pytest

from allyproof.integrations.jira.outbound import refusals
from allyproof.integrations.jira.connection.errors import (
    JiraAuthError,
    JiraNotFound,
    JiraTransientError,
    JiraValidationError,
)

FIX = "fix it in Jira or in Sync rules, then Retry failed"


def refused(**errors):
    return JiraValidationError("Jira refused the request", errors=errors)


@pytest.mark.parametrize(("error", "names", "expected"), [
    (refused(customfield_10060="Cost centre is required."), {"customfield_10060": "Cost centre"},
     f"Jira now requires Cost centre for Task in GAMMA — {FIX}"),
    (refused(customfield_10060="Cost centre is required."), {},  # no name from createmeta: the id
     f"Jira now requires customfield_10060 for Task in GAMMA — {FIX}"),
    (refused(customfield_2="x", customfield_1="y"), {"customfield_1": "Team", "customfield_2": "Cost centre"},
     f"Jira now requires Team, Cost centre for Task in GAMMA — {FIX}"),
    (refused(issuetype="valid issue type is required", customfield_1="y"), {},
     f"Jira no longer offers the issue type Task in GAMMA — {FIX}"),
    (refused(project="valid project is required"), {}, f"Jira no longer has the project GAMMA (or we may not see it) — {FIX}"),
    (JiraNotFound("Jira has no such resource"), {}, f"Jira no longer has the project GAMMA (or we may not see it) — {FIX}"),
    (JiraAuthError("Jira says we may not do that", status=403), {}, f"Jira does not let us create issues in GAMMA — {FIX}"),
    # about this item only: the fields we fill from the violation, or no field at all
    (refused(summary="Summary must be less than 255 characters."), {}, None),
    (refused(description="Operation value must be an Atlassian Document"), {}, None),
    (refused(labels="The label 'a b' contains spaces"), {}, None),
    (JiraValidationError("Jira refused the request: bad", messages=["bad"]), {}, None),
    (JiraAuthError("Jira did not accept our access token", status=401), {}, None),  # a token problem, not the rule
    (JiraTransientError("Jira answered 502"), {}, None),
])
def test_rule_level_refusals_by_field(error, names, expected):
    assert refusals.rule_level(error, project_key="GAMMA", issue_type="Task", names=names) == expected


def test_the_message_text_does_not_decide():
    # Same field, a message in another language: still the rule; a field named in the message only: the item.
    assert refusals.rule_level(refused(customfield_1="Feld ist erforderlich"), project_key="G", issue_type="Bug")
    assert refusals.rule_level(refused(summary="customfield_1 is required"), project_key="G", issue_type="Bug") is None


def test_field_names_are_asked_for_custom_fields_only():
    assert refusals.needs_field_names(refused(project="x", customfield_9="y", summary="z")) == ["customfield_9"]
    assert refusals.needs_field_names(JiraNotFound("gone")) == []
