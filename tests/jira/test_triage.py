"""Tickets a client team can triage: impact -> Jira priority, extra labels and components, chosen
from the project's createmeta, checked at save like the issue type, and put in the create body."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.http import QueryDict

from allyproof.integrations.jira.outbound import content
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.outbound import triage
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import SiteSyncRule

ACME_OFFER = triage.Offered(priorities=("Highest", "High", "Medium", "Low", "Lowest"),
                            components=("Website", "Checkout"), has_priority=True, has_components=True)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


@pytest.mark.parametrize(("chosen", "expected"), [
    (triage.Triage(priorities={"critical": "Highest"}, labels=("client-acme",), components=("Website",)), []),
    (triage.Triage(priorities={"critical": "Blocker"}),
     ["ACME has no priority 'Blocker' (it has Highest, High, Medium, Low, Lowest)."]),
    (triage.Triage(components=("Mobile",)), ["ACME has no component 'Mobile' (it has Website, Checkout)."]),
    (triage.Triage(labels=("two words",)), ["'two words' is not a Jira label: labels have no spaces and at most 255 characters."]),
])
def test_triage_is_checked_against_what_the_project_offers(chosen, expected):
    assert triage.problems(chosen, ACME_OFFER, project_key="ACME", issue_type="Bug") == expected


def test_no_priority_field_on_the_screen_is_a_problem_only_when_a_priority_is_chosen():
    bare = triage.Offered((), (), has_priority=False, has_components=False)
    assert triage.problems(triage.Triage(), bare, project_key="OPS", issue_type="Task") == []
    assert triage.problems(triage.Triage(priorities={"minor": "Low"}), bare, project_key="OPS", issue_type="Task") == [
        "Task issues in OPS have no priority field: leave the priorities on Default."]


def test_the_form_is_read_into_a_triage():
    post = QueryDict(mutable=True)
    post.update({"site-3-priority-critical": "Highest", "site-3-priority-minor": "", "site-3-labels": "a, b  a c"})
    post.setlist("site-3-components", ["Website", "Website", "Checkout"])
    assert triage.from_post(post, 3) == triage.Triage(priorities={"critical": "Highest"}, labels=("a", "b", "c"),
                                                      components=("Website", "Checkout"))


def test_createmeta_offer_is_read_from_the_sandbox(connected, sandbox):
    client = client_for(connected)
    bug = next(t for t in client.create_meta_issue_types("ACME") if t["name"] == "Bug")
    assert triage.offered(client.create_meta_fields("ACME", bug["id"])) == ACME_OFFER


def save(connected, site, chosen):
    return rules.rules_save(connection=connected, by=None, client=client_for(connected), inputs=[rules.RuleInput(
        site_id=site.pk, enabled=True, project_key="ACME", severities=frozenset({"critical", "minor"}), issue_type="",
        auto_push=False, triage=chosen)])


def test_saving_refuses_what_the_project_does_not_offer_and_keeps_the_rule(connected, site):
    result = save(connected, site, triage.Triage(priorities={"critical": "Blocker"}, components=("Mobile",)))
    assert result.errors == {site.pk: ["ACME has no priority 'Blocker' (it has Highest, High, Medium, Low, Lowest).",
                                       "ACME has no component 'Mobile' (it has Website, Checkout)."]}
    assert not SiteSyncRule.objects.filter(site=site, enabled=True).exists()


def test_saved_triage_goes_into_the_create_body_and_jira_accepts_it(connected, site, sandbox):
    chosen = triage.Triage(priorities={"critical": "Highest", "minor": "Low"}, labels=("client-acme",),
                           components=("Website",))
    assert save(connected, site, chosen).ok
    rule = SiteSyncRule.objects.get(site=site)
    assert triage.for_rule(rule) == chosen
    item = content.IssueInput(rule_id="image-alt", impact="critical", help="Images must have alternative text",
                              description="d", help_url="", criteria=("1.1.1",), levels=("A",), site_name="ACME",
                              site_url="https://acme.example/", pages=("https://acme.example/",), page_count=1,
                              element_count=1, samples=(), violation_url="http://testserver/v/1", dedupe_key="k" * 64)
    body = content.issue_body(item, project_key="ACME", issue_type_id=rule.issue_type_id, label="allyproof-kkkk",
                              triage=triage.for_rule(rule))
    assert body["fields"]["priority"] == {"name": "Highest"}
    assert body["fields"]["components"] == [{"name": "Website"}]
    assert body["fields"]["labels"] == ["allyproof", "accessibility", "allyproof-kkkk", "client-acme"]
    created = client_for(connected).create_issue(body)  # the sandbox validates it like Jira
    issue = sandbox.issues(None)[-1]
    assert issue["key"] == created["key"] and issue["fields"]["labels"][-1] == "client-acme"
    minor = content.issue_body(item.__class__(**{**item.__dict__, "impact": "minor"}), project_key="ACME",
                               issue_type_id=rule.issue_type_id, label="x", triage=triage.for_rule(rule))
    assert minor["fields"]["priority"] == {"name": "Low"}
    plain = content.issue_body(item, project_key="ACME", issue_type_id=rule.issue_type_id, label="x")
    assert "priority" not in plain["fields"] and "components" not in plain["fields"]  # no triage: as before


def test_the_sync_rules_form_offers_the_projects_priorities_and_components(connected, client, site, rules_for):
    rules_for(site, key="ACME")
    body = client.get("/settings/integrations/").content.decode()
    assert f'name="site-{site.pk}-priority-critical"' in body and '<option value="Highest">Highest</option>' in body
    assert f'name="site-{site.pk}-components" value="Checkout"' in body
    response = client.post("/settings/integrations/jira/rules/", {
        "site": [site.pk], f"site-{site.pk}-enabled": "on", f"site-{site.pk}-project": "ACME",
        f"site-{site.pk}-severities": ["critical"], f"site-{site.pk}-priority-critical": "Highest",
        f"site-{site.pk}-labels": "client-acme", f"site-{site.pk}-components": ["Checkout"]})
    assert response.status_code == 302
    rule = SiteSyncRule.objects.get(site=site)
    assert (rule.priorities, rule.extra_labels, rule.components) == ({"critical": "Highest"}, ["client-acme"], ["Checkout"])
    refused = client.post("/settings/integrations/jira/rules/", {
        "site": [site.pk], f"site-{site.pk}-enabled": "on", f"site-{site.pk}-project": "ACME",
        f"site-{site.pk}-severities": ["critical"], f"site-{site.pk}-priority-critical": "Blocker"})
    assert refused.status_code == 400 and "ACME has no priority &#x27;Blocker&#x27;" in refused.content.decode()


def test_a_push_carries_the_sites_triage_into_jira(connected, site, sandbox):
    """The push path itself (not only content.issue_body) sends the saved priority, labels and components."""
    from allyproof.integrations.jira.outbound import push
    from tests import factories
    from tests.jira.conftest import NoGate

    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    assert save(connected, site, triage.Triage(priorities={"critical": "Highest"}, labels=("client-acme",),
                                               components=("Website",))).ok
    violation = site.violations.filter(impact="critical").first()
    result = push.violation_push(violation=violation, connection=connected,
                                 client=client_for(connected, gate=NoGate()),
                                 violation_url=push.absolute_violation_url(violation))
    issue = next(i for i in sandbox.issues(None) if i["key"] == result.link.issue_key)
    assert issue["fields"]["priority"]["name"] == "Highest"
    assert [c["name"] for c in issue["fields"]["components"]] == ["Website"]
    assert "client-acme" in issue["fields"]["labels"]
