"""POST issue validated as Jira does (each error body), createmeta, get/delete, comments,
properties, transitions."""
from __future__ import annotations

import pytest

from .conftest import adf_doc

ADF = adf_doc("Order entry fails")


def test_create_returns_201_with_id_key_self(h, tokens):
    resp = h.create(tokens, description=ADF, labels=["allyproof-abc"])
    assert resp.status_code == 201
    assert resp.json() == {"id": "10000", "key": "ACME-1",
                           "self": "https://demo-agency.atlassian.net/rest/api/3/issue/10000"}
    assert h.create(tokens).json()["key"] == "ACME-2"
    assert h.create(tokens, project="WEB").json() == {
        "id": "10002", "key": "WEB-1", "self": "https://demo-agency.atlassian.net/rest/api/3/issue/10002"}


def test_project_and_issuetype_by_id(h, tokens):
    body = {"fields": {"project": {"id": "10000"}, "issuetype": {"id": "10004"}, "summary": "By ids"}}
    assert h.api("POST", "issue", tokens, json=body).status_code == 201


LONG = "x" * 256
BIG_ADF = adf_doc(*["y" * 1000] * 33)

CASES = [  # (fields override, project, issuetype, expected ErrorCollection)
    ("unknown project", {}, "NOPE", "Bug", {"errorMessages": [], "errors": {"project": "valid project is required"}}),
    ("type not in project", {}, "BETA", "Bug",
     {"errorMessages": [], "errors": {"issuetype": "The issue type selected is invalid."}}),
    ("summary too long", {"summary": LONG}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"summary": "Summary must be less than 255 characters."}}),
    ("empty summary", {"summary": ""}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}),
    ("description not ADF", {"description": "plain text"}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"description":
      "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}}),
    ("description too long", {"description": BIG_ADF}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"description":
      "The entered text is too long. It exceeds the allowed limit of 32,767 characters."}}),
    ("label with a space", {"labels": ["two words"]}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"labels": "The label 'two words' contains spaces which is invalid."}}),
    ("label too long", {"labels": [LONG]}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"labels":
      f"The label '{LONG}' exceeds the maximum length for a single label of 255 characters."}}),
    ("field not on screen", {"customfield_99999": "x"}, "ACME", "Bug",
     {"errorMessages": [], "errors": {"customfield_99999":
      "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown."}}),
]


@pytest.mark.parametrize("name, fields, project, issuetype, expected", CASES, ids=[c[0] for c in CASES])
def test_create_validation_error_bodies(h, tokens, name, fields, project, issuetype, expected):
    resp = h.create(tokens, project=project, issuetype=issuetype, **fields)
    assert resp.status_code == 400
    assert resp.json() == expected


def test_missing_summary_and_issuetype_are_reported_together(h, tokens):
    resp = h.api("POST", "issue", tokens, json={"fields": {"project": {"key": "ACME"}}})
    assert resp.json() == {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue.",
                                                           "issuetype": "Specify an issue type"}}


def test_property_key_too_long(h, tokens):
    body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Bug"}, "summary": "s"},
            "properties": [{"key": "k" * 256, "value": 1}]}
    resp = h.api("POST", "issue", tokens, json=body)
    assert resp.status_code == 400
    assert resp.json() == {"errorMessages": ["The property key can't be longer than 255 characters."], "errors": {}}


def test_required_field_added_by_an_admin(h, sb, tokens):
    sb.set_required_field(None, "ACME", "Bug", "customfield_10050", "Customer")
    resp = h.create(tokens)
    assert resp.json() == {"errorMessages": [], "errors": {"customfield_10050": "Customer is required."}}
    assert h.create(tokens, customfield_10050="Acme").status_code == 201
    assert h.create(tokens, issuetype="Task").status_code == 201  # only Bug needs it
    meta = h.api("GET", "issue/createmeta/ACME/issuetypes/10004", tokens).json()["fields"]
    field = next(f for f in meta if f["fieldId"] == "customfield_10050")
    assert field["required"] is True and field["hasDefaultValue"] is False


def test_required_field_with_default_does_not_block(h, sb, tokens):
    sb.set_required_field(None, "ACME", "Bug", "customfield_10051", "Team", has_default=True)
    assert h.create(tokens).status_code == 201


def test_createmeta_issuetypes(h, tokens):
    data = h.api("GET", "issue/createmeta/BETA/issuetypes", tokens).json()
    assert [t["name"] for t in data["issueTypes"]] == ["Task", "Story", "Subtask"]
    assert data["total"] == 3 and data["startAt"] == 0
    fields = h.api("GET", "issue/createmeta/ACME/issuetypes/10001", tokens).json()["fields"]
    summary = next(f for f in fields if f["fieldId"] == "summary")
    assert summary["required"] is True and summary["hasDefaultValue"] is False
    assert h.api("GET", "issue/createmeta/NOPE/issuetypes", tokens).status_code == 404


def test_get_issue_shape_and_properties(h, tokens):
    body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Bug"}, "summary": "S",
                       "description": ADF, "labels": ["allyproof-1"]},
            "properties": [{"key": "allyproof.dedupe", "value": {"key": "abc"}}]}
    key = h.api("POST", "issue", tokens, json=body).json()["key"]
    issue = h.api("GET", f"issue/{key}", tokens).json()
    status = issue["fields"]["status"]
    assert status["name"] == "To Do"
    category = {k: status["statusCategory"][k] for k in ("id", "key", "colorName", "name")}
    assert category == {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}
    assert issue["fields"]["description"] == ADF and issue["fields"]["labels"] == ["allyproof-1"]
    prop = h.api("GET", f"issue/{key}/properties/allyproof.dedupe", tokens).json()
    assert prop == {"key": "allyproof.dedupe", "value": {"key": "abc"}}
    only = h.api("GET", f"issue/{key}", tokens, params={"fields": "summary,status"}).json()["fields"]
    assert set(only) == {"summary", "status"}


def test_get_missing_issue(h, tokens):
    resp = h.api("GET", "issue/ACME-99", tokens)
    assert resp.status_code == 404
    assert resp.json() == {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                           "errors": {}}


def test_delete_issue(h, tokens):
    key = h.create(tokens).json()["key"]
    assert h.api("DELETE", f"issue/{key}", tokens).status_code == 204
    assert h.api("GET", f"issue/{key}", tokens).status_code == 404


def test_properties_set_get_delete(h, tokens):
    key = h.create(tokens).json()["key"]
    assert h.api("PUT", f"issue/{key}/properties/p1", tokens, json={"a": 1}).status_code == 201
    assert h.api("PUT", f"issue/{key}/properties/p1", tokens, json={"a": 2}).status_code == 200
    assert h.api("GET", f"issue/{key}/properties", tokens).json()["keys"][0]["key"] == "p1"
    assert h.api("DELETE", f"issue/{key}/properties/p1", tokens).status_code == 204
    assert h.api("GET", f"issue/{key}/properties/p1", tokens).status_code == 404


def test_comments(h, tokens):
    key = h.create(tokens).json()["key"]
    resp = h.api("POST", f"issue/{key}/comment", tokens, json={"body": adf_doc("Reopened by AllyProof")})
    assert resp.status_code == 201 and resp.json()["body"] == adf_doc("Reopened by AllyProof")
    assert h.api("GET", f"issue/{key}/comment", tokens).json()["total"] == 1
    bad = h.api("POST", f"issue/{key}/comment", tokens, json={"body": "plain"})
    assert bad.status_code == 400 and "comment" in bad.json()["errors"]


def test_transitions(h, tokens):
    key = h.create(tokens).json()["key"]
    names = {t["name"]: t for t in h.api("GET", f"issue/{key}/transitions", tokens).json()["transitions"]}
    assert set(names) == {"In Progress", "Done"}
    assert names["Done"]["to"]["statusCategory"]["key"] == "done"
    assert h.api("POST", f"issue/{key}/transitions", tokens, json={"transition": {"id": names["Done"]["id"]}}
                 ).status_code == 204
    fields = h.api("GET", f"issue/{key}", tokens).json()["fields"]
    assert fields["status"]["name"] == "Done" and fields["resolution"]["name"] == "Done"
    bad = h.api("POST", f"issue/{key}/transitions", tokens, json={"transition": {"id": "999"}})
    assert bad.json() == {"errorMessages": ["Transition id '999' is not valid for this issue."], "errors": {}}


def test_edit_issue_fields(h, tokens):
    key = h.create(tokens).json()["key"]
    assert h.api("PUT", f"issue/{key}", tokens, json={"fields": {"summary": "New"},
                                                         "update": {"labels": [{"add": "x"}]}}).status_code == 204
    fields = h.api("GET", f"issue/{key}", tokens).json()["fields"]
    assert fields["summary"] == "New" and fields["labels"] == ["x"]
