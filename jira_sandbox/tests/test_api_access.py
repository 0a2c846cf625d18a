"""Bearer authentication, scope checks and cloud-id checks on /ex/jira/{cloudId}/rest/api/3/."""
from __future__ import annotations

import pytest

from jira_sandbox import DEMO_AGENCY_ID, OTHER_AGENCY_ID

from .conftest import REDIRECT, query_of, authorize_params


def test_missing_or_bogus_token_is_401(h):
    url = f"/ex/jira/{DEMO_AGENCY_ID}/rest/api/3/project/ACME"
    assert h.client.get(url).status_code == 401
    assert h.client.get(url, headers={"Authorization": "Bearer nope"}).json() == {"code": 401,
                                                                                 "message": "Unauthorized"}


@pytest.mark.parametrize("method, path, body", [
    ("POST", "issue", {"fields": {}}),
    ("PUT", "issue/ACME-1/properties/x", {"a": 1}),
    ("POST", "webhook", {"url": "https://a.test/wh", "webhooks": []}),
    ("GET", "webhook", None),
])
def test_missing_scope_is_401_scope_does_not_match(h, method, path, body):
    read_only = h.login(scope="read:jira-work")
    resp = h.api(method, path, read_only, json=body)
    assert resp.status_code == 401
    assert resp.json() == {"code": 401, "message": "Unauthorized; scope does not match"}


def test_read_scope_reads(h):
    assert h.api("GET", "project/ACME", h.login(scope="read:jira-work")).status_code == 200


def test_unknown_cloud_id_is_404(h, tokens):
    resp = h.api("GET", "project/ACME", tokens, cloud_id="00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 404


def test_site_not_in_the_grant_is_404(h, sb):
    form = {**authorize_params(), "decision": "accept", "account": sb.cfg.accounts[0].account_id,
            "site": DEMO_AGENCY_ID}
    code = query_of(h.client.post("/authorize", data=form).headers["location"])["code"]
    access = h.token_request(grant_type="authorization_code", code=code, redirect_uri=REDIRECT).json()
    headers = {"Authorization": f"Bearer {access['access_token']}"}
    assert h.client.get(f"/ex/jira/{DEMO_AGENCY_ID}/rest/api/3/project/ACME", headers=headers).status_code == 200
    assert h.client.get(f"/ex/jira/{OTHER_AGENCY_ID}/rest/api/3/project/OPS", headers=headers).status_code == 404


def test_project_keys_are_case_sensitive(h, tokens):
    assert h.api("GET", "project/ACME", tokens).json()["key"] == "ACME"
    resp = h.api("GET", "project/acme", tokens)
    assert resp.status_code == 404
    assert resp.json() == {"errorMessages": ["No project could be found with key 'acme'."], "errors": {}}


def test_project_lists_its_issue_types(h, tokens):
    names = [t["name"] for t in h.api("GET", "project/BETA", tokens).json()["issueTypes"]]
    assert "Bug" not in names and {"Task", "Story"} <= set(names)


def test_each_site_has_its_own_projects(h, tokens):
    assert h.api("GET", "project/OPS", tokens, cloud_id=OTHER_AGENCY_ID).status_code == 200
    assert h.api("GET", "project/OPS", tokens).status_code == 404


def test_unimplemented_operation_says_so(h, tokens):
    resp = h.api("GET", "dashboard", tokens)
    assert resp.status_code == 404 and "does not implement" in resp.json()["errorMessages"][0]
