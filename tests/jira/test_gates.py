"""The one gate table every push path uses: each row a situation and the reason people see."""

import pytest

from allyproof.integrations.jira.outbound.gates import Situation, block_reason

OK = dict(connection_status="active", rule_enabled=True, project_key="ACME",
          severities=frozenset({"critical", "serious"}), impact="critical", violation_status="open", linked_key=None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({"connection_status": None}, "Jira is not connected. An owner or admin can connect it under Settings → Integrations."),
        ({"connection_status": "disconnected"}, "Jira is not connected. An owner or admin can connect it under Settings → Integrations."),
        ({"connection_status": "needs_reconnect"}, "The Jira connection needs to be reconnected by an owner or admin."),
        ({"rule_enabled": False}, "This site is excluded from Jira sync."),
        ({"project_key": ""}, "This site has no Jira project key configured."),
        ({"impact": "moderate"}, "Moderate violations are below this site's threshold (it pushes Critical, Serious)."),
        ({"severities": frozenset()}, "Critical violations are below this site's threshold (no severity is ticked)."),
        ({"violation_status": "resolved"}, "This violation is resolved."),
        ({"linked_key": ""}, "This violation is being pushed to Jira right now."),
        ({"linked_key": "ACME-7"}, "Already in Jira as ACME-7."),
        # The first failing gate wins: an excluded site says so even when the key is also blank.
        ({"rule_enabled": False, "project_key": ""}, "This site is excluded from Jira sync."),
    ],
)
def test_gates(change, reason):
    assert block_reason(Situation(**{**OK, **change})) == reason
