"""search/jql: the JQL subset, bounded queries only, fields, nextPageToken paging, no total,
eventual consistency."""
from __future__ import annotations

import pytest


@pytest.fixture
def seeded(h, tokens):
    h.create(tokens, summary="one", labels=["allyproof-a"])                 # ACME-1
    h.create(tokens, summary="two", labels=["allyproof-b"], issuetype="Task")  # ACME-2
    h.create(tokens, summary="three", project="WEB")                       # WEB-1
    h.sb.transition_issue(None, "ACME-2", "Done")
    return tokens


def keys(h, tokens, jql, **params):
    resp = h.api("GET", "search/jql", tokens, params={"jql": jql, "fields": "summary", **params})
    assert resp.status_code == 200, resp.text
    return sorted(i["key"] for i in resp.json()["issues"])


@pytest.mark.parametrize("jql, expected", [
    ("project = ACME", ["ACME-1", "ACME-2"]),
    ("project = acme", ["ACME-1", "ACME-2"]),
    ("project IN (ACME, WEB)", ["ACME-1", "ACME-2", "WEB-1"]),
    ("labels = allyproof-a", ["ACME-1"]),
    ('project = ACME AND labels = "allyproof-b"', ["ACME-2"]),
    ("key IN (ACME-1, WEB-1)", ["ACME-1", "WEB-1"]),
    ("key in (ACME-1, ACME-2) AND statusCategory = Done", ["ACME-2"]),
    ("project = ACME AND statusCategory != Done", ["ACME-1"]),
    ("project = ACME AND statusCategory = done", ["ACME-2"]),
    ("project IN (ACME, WEB) AND issuetype = Bug ORDER BY key DESC", ["ACME-1", "WEB-1"]),
])
def test_jql_subset(h, seeded, jql, expected):
    assert keys(h, seeded, jql) == expected


def test_post_search_and_order(h, seeded):
    resp = h.api("POST", "search/jql", seeded, json={"jql": "project = ACME ORDER BY key ASC",
                                                     "fields": ["summary", "status"]})
    issues = resp.json()["issues"]
    assert [i["key"] for i in issues] == ["ACME-1", "ACME-2"]
    assert issues[1]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert "total" not in resp.json() and resp.json()["isLast"] is True


@pytest.mark.parametrize("jql", ["", "ORDER BY key DESC", "order by created"])
def test_unbounded_query_is_rejected(h, seeded, jql):
    resp = h.api("GET", "search/jql", seeded, params={"jql": jql})
    assert resp.status_code == 400
    assert resp.json() == {"errorMessages": ["Unbounded JQL queries are not allowed here. "
                                             "Please add a search restriction to your query."], "errors": {}}


@pytest.mark.parametrize("jql, message", [
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ("key IN (ACME-1, ACME-99)", "An issue with key 'ACME-99' does not exist for field 'key'."),
    ("project = ACME AND", "Error in the JQL Query: Expecting either a value, list or function but got end of query."),
    ("watchCount = 2", "Field 'watchCount' does not exist or you do not have permission to view it."),
])
def test_jql_errors(h, seeded, jql, message):
    resp = h.api("GET", "search/jql", seeded, params={"jql": jql})
    assert resp.status_code == 400 and message in resp.json()["errorMessages"]


def test_default_fields_is_id_only(h, seeded):
    issues = h.api("GET", "search/jql", seeded, params={"jql": "project = ACME"}).json()["issues"]
    assert issues == [{"id": "10001"}, {"id": "10000"}]


def test_next_page_token_paging(h, tokens):
    for n in range(5):
        h.create(tokens, summary=f"n{n}")
    seen, token = [], None
    while True:
        params = {"jql": "project = ACME ORDER BY key ASC", "fields": "summary", "maxResults": 2}
        if token:
            params["nextPageToken"] = token
        page = h.api("GET", "search/jql", tokens, params=params).json()
        seen += [i["key"] for i in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert seen == [f"ACME-{n}" for n in range(1, 6)]


def test_search_is_eventually_consistent(h, sb, tokens):
    sb.cfg.timing.index_delay = 2.0
    key = h.create(tokens, labels=["allyproof-late"]).json()["key"]
    assert keys(h, tokens, "labels = allyproof-late") == []
    sb.clock.advance(2.0)
    assert keys(h, tokens, "labels = allyproof-late") == [key]
    sb.transition_issue(None, key, "Done")
    assert keys(h, tokens, f"key = {key} AND statusCategory = Done") == []  # index still shows To Do
    sb.clock.advance(2.0)
    assert keys(h, tokens, f"key = {key} AND statusCategory = Done") == [key]


def test_reconcile_issues_reads_through_the_lag(h, sb, tokens):
    sb.cfg.timing.index_delay = 5.0
    created = h.create(tokens, labels=["allyproof-now"]).json()
    body = {"jql": "labels = allyproof-now", "fields": ["summary"], "reconcileIssues": [int(created["id"])]}
    assert [i["key"] for i in h.api("POST", "search/jql", tokens, json=body).json()["issues"]] == [created["key"]]
