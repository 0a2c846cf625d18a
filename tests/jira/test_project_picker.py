"""The sync-rules project picker: projects the connection can create issues in, from Jira's
project/search (checked against Atlassian's OpenAPI by the sandbox), cached briefly; issue types
from the chosen project's createmeta; typed keys still accepted."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from allyproof.integrations.jira.outbound import projects
from allyproof.integrations.jira.connection.gateway import client_for


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_search_projects_in_jiras_vocabulary(connected, sandbox):
    found = client_for(connected).search_projects(action="create")
    assert [(p["key"], p["name"]) for p in found] == [("ACME", "Acme Corp website"), ("WEB", "Agency website"),
                                                       ("BETA", "Beta Shop")]
    assert [p["key"] for p in client_for(connected).search_projects(query="shop")] == ["BETA"]
    call = [r for r in sandbox.requests if r.path.endswith("/project/search")][-1]
    assert call.query["action"] == ["create"]


def test_the_list_is_cached_for_a_few_minutes(connected, sandbox):
    first = projects.creatable_projects(connection=connected, client=client_for(connected))
    calls = len([r for r in sandbox.requests if r.path.endswith("/project/search")])
    again = projects.creatable_projects(connection=connected, client=client_for(connected))
    assert again == first and len([r for r in sandbox.requests if r.path.endswith("/project/search")]) == calls
    assert [p.key for p in first.projects] == ["ACME", "WEB", "BETA"]


def test_jira_unreachable_gives_a_reason_and_typing_still_works(connected, sandbox, client, site):
    sandbox.faults.add(kind="error", path=".*project/search.*", status=500, count=3)
    listing = projects.creatable_projects(connection=connected, client=client_for(connected))
    assert listing.projects == () and "type a project key instead" in listing.problem


def test_sync_rules_suggest_projects_and_offer_the_projects_issue_types(connected, client, site, rules_for):
    rules_for(site, key="BETA")
    body = client.get("/settings/integrations/").content.decode()
    options = re.findall(r'<option value="([A-Z]+)" label="([^"]+)">', body)
    assert options == [("ACME", "Acme Corp website (ACME)"), ("WEB", "Agency website (WEB)"), ("BETA", "Beta Shop (BETA)")]
    assert f'id="site-{site.pk}-project" value="BETA"' in body and 'list="jira-projects"' in body
    select = re.search(rf'<select name="site-{site.pk}-issue_type".*?</select>', body, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "Task", "Story"]  # BETA has no Bug; no subtasks
    assert '<option value="Task" selected>' in select  # the default resolved to Task when saved


def test_a_typed_key_not_in_the_list_is_still_checked_and_saved(connected, client, site):
    response = client.post("/settings/integrations/jira/rules/", {
        "site": [site.pk], f"site-{site.pk}-enabled": "on", f"site-{site.pk}-project": "WEB",
        f"site-{site.pk}-severities": ["critical"], f"site-{site.pk}-issue_type": "Task"})
    assert response.status_code == 302
    site.jira_rule.refresh_from_db()
    assert (site.jira_rule.project_key, site.jira_rule.issue_type_name) == ("WEB", "Task")


def test_the_issue_type_control_follows_the_key(connected, client, site, member_user, other_org):
    url = "/settings/integrations/jira/issue-types/"
    body = client.get(url, {"site": site.pk, "project": "BETA", "current": "Bug"}).content.decode()
    assert re.findall(r'<option value="([^"]*)"', body) == ["", "Task", "Story"]
    assert '<option value="" selected>Default</option>' in body  # Bug is not BETA's: back to the default
    web = client.get(url, {"site": site.pk, "project": "WEB", "current": "Task"}).content.decode()
    assert '<option value="Task" selected>' in web
    unknown = client.get(url, {"site": site.pk, "project": "NOPE"}).content.decode()
    assert f'<input type="text" name="site-{site.pk}-issue_type"' in unknown  # typed, checked on save
    assert client.get(url, {"site": 999999, "project": "WEB"}).status_code == 404
    foreign = other_org.sites.create(name="Theirs", base_url="https://theirs.example/")
    assert client.get(url, {"site": foreign.pk, "project": "WEB"}).status_code == 404
    client.force_login(member_user)
    assert client.get(url, {"site": site.pk, "project": "WEB"}).status_code == 403
