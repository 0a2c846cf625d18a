"""Faults where Jira did (or will) commit a write the caller cannot see: late commits, unreadable or
failed answers after the commit, search lag per site, rules Jira broke later, and issue links."""
from __future__ import annotations

import httpx
import pytest

from jira_sandbox import DEMO_AGENCY_ID, OTHER_AGENCY_ID

ISSUE = r"/rest/api/3/issue$"


def labelled(h, tokens, label, cloud_id=DEMO_AGENCY_ID, project="ACME"):
    found = h.api("POST", "search/jql", tokens, cloud_id=cloud_id,
                  json={"jql": f"project = {project} AND labels = {label}", "fields": ["labels"]})
    assert found.status_code == 200, found.text
    return found.json()["issues"]


def test_late_commit_times_out_then_commits_on_the_sandbox_clock(h, tokens):
    h.sb.faults.add(method="POST", path=ISSUE, kind="late_commit", commit_after=20)
    with pytest.raises(httpx.TimeoutException):
        h.create(tokens, labels=["allyproof-late"])
    assert h.sb.issues(None) == [] and h.sb.late_pending == 1
    h.sb.clock.advance(19.9)
    assert h.sb.issues(None) == []  # not yet: Jira is still working on it
    h.sb.clock.advance(0.1)
    [issue] = h.sb.issues(None)
    assert issue["fields"]["labels"] == ["allyproof-late"] and h.sb.late_pending == 0
    assert h.sb.requests[-1].fault == "late_commit" and h.sb.requests[-1].response["key"] == "ACME-1"


def test_a_late_commit_is_also_committed_by_the_next_request(h, tokens):
    h.sb.faults.add(method="POST", path=ISSUE, kind="late_commit", commit_after=5)
    with pytest.raises(httpx.TimeoutException):
        h.create(tokens, summary="first")
    h.sb.clock.advance(6)
    assert h.create(tokens, summary="second").json()["key"] == "ACME-2"  # the held one committed first


def test_a_late_commit_that_jira_refuses_creates_nothing(h, tokens):
    h.sb.faults.add(method="POST", path=ISSUE, kind="late_commit", commit_after=1)
    with pytest.raises(httpx.TimeoutException):
        h.create(tokens, summary="x" * 300)  # over 255: Jira refuses it when it gets to it
    h.sb.clock.advance(2)
    assert h.sb.issues(None) == [] and h.sb.requests[-1].response["errors"]["summary"]


def test_commit_then_unreadable_2xx(h, tokens):
    h.sb.faults.add(method="POST", path=ISSUE, kind="commit_then_unreadable")
    response = h.create(tokens)
    assert response.status_code == 201 and response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()
    assert [i["key"] for i in h.sb.issues(None)] == ["ACME-1"]


def test_commit_then_500(h, tokens):
    h.sb.faults.add(method="POST", path=ISSUE, kind="commit_then_error", status=500)
    response = h.create(tokens)
    assert response.status_code == 500 and response.json()["errorMessages"] == ["Internal server error"]
    assert [i["key"] for i in h.sb.issues(None)] == ["ACME-1"]


def test_drop_response_after_commit_still_commits(h, tokens):
    h.sb.faults.add(method="POST", path=ISSUE, kind="drop_response_after_commit")
    with pytest.raises(httpx.RemoteProtocolError):
        h.create(tokens)
    assert len(h.sb.issues(None)) == 1


def test_search_lag_is_per_site_and_on_the_sandbox_clock(h, tokens):
    h.sb.set_search_lag(DEMO_AGENCY_ID, 240)  # four minutes behind on one site only
    assert h.create(tokens, labels=["allyproof-lag"]).status_code == 201
    assert labelled(h, tokens, "allyproof-lag") == []
    h.sb.clock.advance(239)
    assert labelled(h, tokens, "allyproof-lag") == []
    h.sb.clock.advance(1)
    assert len(labelled(h, tokens, "allyproof-lag")) == 1
    assert h.api("POST", "issue", tokens, cloud_id=OTHER_AGENCY_ID, json={"fields": {
        "project": {"key": "OPS"}, "issuetype": {"name": "Bug"}, "summary": "s", "labels": ["allyproof-o"]}}
    ).status_code == 201
    assert len(labelled(h, tokens, "allyproof-o", cloud_id=OTHER_AGENCY_ID, project="OPS")) == 1  # no lag there
    with pytest.raises(ValueError):
        h.sb.set_search_lag(DEMO_AGENCY_ID, -1)


def test_a_required_field_added_after_rules_were_saved_refuses_creates_by_field(h, tokens):
    assert h.create(tokens, issuetype="Task").status_code == 201
    h.sb.set_required_field(None, "ACME", "Task", "customfield_10060", "Cost centre")
    refused = h.create(tokens, issuetype="Task")
    assert refused.status_code == 400 and "customfield_10060" in refused.json()["errors"]
    meta = h.api("GET", "issue/createmeta/ACME/issuetypes/10001", tokens).json()["fields"]
    assert any(f["fieldId"] == "customfield_10060" and f["required"] for f in meta)


def test_issue_link_types_and_a_duplicate_link(h, tokens):
    first, second = h.create(tokens).json()["key"], h.create(tokens).json()["key"]
    types = h.api("GET", "issueLinkType", tokens).json()["issueLinkTypes"]
    assert "Duplicate" in [t["name"] for t in types]
    made = h.api("POST", "issueLink", tokens, json={"type": {"name": "Duplicate"}, "inwardIssue": {"key": second},
                                                    "outwardIssue": {"key": first}})
    assert made.status_code == 201
    assert [(link["type"], link["inward"], link["outward"]) for link in h.sb.links_of(None, first)] == [
        ("Duplicate", second, first)]
    missing = h.api("POST", "issueLink", tokens, json={"type": {"name": "Duplicate"},
                                                       "inwardIssue": {"key": "ACME-99"}, "outwardIssue": {"key": first}})
    assert missing.status_code == 404
    h.sb.set_link_types(None, ["Blocks", "Relates"])
    assert "Duplicate" not in [t["name"] for t in h.api("GET", "issueLinkType", tokens).json()["issueLinkTypes"]]
    unknown = h.api("POST", "issueLink", tokens, json={"type": {"name": "Duplicate"}, "inwardIssue": {"key": second},
                                                       "outwardIssue": {"key": first}})
    assert unknown.status_code == 404


def test_the_new_faults_over_the_http_control_api(h, tokens):
    add = h.client.post("/_sandbox/faults", json={"kind": "late_commit", "method": "POST", "path": ISSUE,
                                                  "commit_after": 30})
    assert add.status_code == 201 and add.json()["commit_after"] == 30
    assert h.client.post("/_sandbox/faults", json={"kind": "late_commit", "commit_after": -1}).status_code == 400
    with pytest.raises(httpx.TimeoutException):
        h.create(tokens)
    assert h.client.post("/_sandbox/commit-due").json() == {"committed": 0, "held": 1}
    h.client.post("/_sandbox/clock/advance", json={"seconds": 30})  # advancing commits what is due
    assert len(h.sb.issues(None)) == 1
    assert h.client.post("/_sandbox/search-lag", json={"seconds": 90}).json() == {"seconds": 90.0}
    assert h.client.post("/_sandbox/search-lag", json={"seconds": -5}).status_code == 400
    assert h.sb.jira.index_delay(DEMO_AGENCY_ID) == 90
    for kind in ("commit_then_unreadable", "commit_then_error"):
        assert h.client.post("/_sandbox/faults", json={"kind": kind}).status_code == 201
    h.client.delete("/_sandbox/faults")
    assert h.client.post("/_sandbox/link-types", json={"names": []}).status_code == 200
    assert h.api("GET", "issueLinkType", tokens).json()["issueLinkTypes"] == []
    assert h.client.post("/_sandbox/link-types", json={"names": "Duplicate"}).status_code == 400
    assert h.client.get("/_sandbox/issue-links").json() == []
