"""OAuth 2.0 (3LO) as Atlassian documents it: authorize, codes, rotating refresh tokens, resources."""
from __future__ import annotations

import pytest

from jira_sandbox import DEMO_AGENCY_ID, OTHER_AGENCY_ID

from .conftest import REDIRECT, authorize_params, query_of

INVALID_REFRESH = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}


@pytest.mark.parametrize("missing", ["audience", "scope", "state", "response_type", "prompt"])
def test_authorize_requires_every_documented_parameter(h, missing):
    params = authorize_params()
    del params[missing]
    resp = h.client.get("/authorize", params=params)
    assert resp.status_code == 400 and missing in resp.text


@pytest.mark.parametrize("over, expect", [
    ({"client_id": "someone-else"}, "Invalid client_id"),
    ({"audience": "example.com"}, "audience"),
    ({"prompt": "none"}, "prompt"),
    ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
])
def test_authorize_rejects_bad_parameters_with_a_page(h, over, expect):
    resp = h.client.get("/authorize", params=authorize_params(**over))
    assert resp.status_code == 400 and expect in resp.text


def test_authorize_redirects_scope_and_response_type_errors(h):
    resp = h.client.get("/authorize", params=authorize_params(scope="read:jira-work admin:everything"))
    assert query_of(resp.headers["location"])["error"] == "invalid_scope"
    resp = h.client.get("/authorize", params=authorize_params(response_type="token"))
    assert query_of(resp.headers["location"])["error"] == "unsupported_response_type"


def test_consent_page_lists_scopes_and_sites_and_deny_returns_access_denied(h):
    page = h.client.get("/authorize", params=authorize_params())
    assert page.status_code == 200
    for text in ("manage:jira-webhook", "offline_access", "Demo Agency", "Other Agency", "Dana Admin"):
        assert text in page.text
    form = {**authorize_params(), "decision": "deny"}
    resp = h.client.post("/authorize", data=form)
    assert resp.status_code == 302
    assert query_of(resp.headers["location"]) == {
        "error": "access_denied", "state": "st-1", "error_description": "The user did not grant access"}


def test_consent_grants_only_the_chosen_site(h, sb):
    form = {**authorize_params(), "decision": "accept", "account": sb.cfg.accounts[0].account_id,
            "site": OTHER_AGENCY_ID}
    loc = h.client.post("/authorize", data=form).headers["location"]
    assert query_of(loc)["state"] == "st-1"
    tok = h.token_request(grant_type="authorization_code", code=query_of(loc)["code"], redirect_uri=REDIRECT).json()
    resources = h.client.get("/oauth/token/accessible-resources",
                             headers={"Authorization": f"Bearer {tok['access_token']}"}).json()
    assert {r["id"] for r in resources} == {OTHER_AGENCY_ID}


def test_token_response_shape(h):
    data = h.token_request(grant_type="authorization_code", code=h.code(), redirect_uri=REDIRECT).json()
    assert set(data) == {"access_token", "refresh_token", "expires_in", "scope", "token_type"}
    assert data["expires_in"] == 3600 and data["token_type"] == "Bearer"
    assert data["scope"].split() == authorize_params()["scope"].split()


def test_no_refresh_token_without_offline_access(h):
    tokens = h.login(scope="read:jira-work write:jira-work")
    assert tokens.refresh is None


def test_code_is_single_use(h):
    code = h.code()
    first = h.token_request(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    replay = h.token_request(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert first.status_code == 200
    assert replay.status_code == 403 and replay.json()["error"] == "invalid_grant"


def test_code_expires(h, sb):
    code = h.code()
    sb.clock.advance(sb.cfg.timing.code_ttl + 1)
    resp = h.token_request(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert resp.status_code == 403 and resp.json()["error"] == "invalid_grant"


def test_code_exchange_checks_redirect_uri(h):
    resp = h.token_request(grant_type="authorization_code", code=h.code(), redirect_uri="https://evil.test/cb")
    assert resp.status_code == 403 and resp.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_access_denied(h):
    resp = h.client.post("/oauth/token", json={"grant_type": "authorization_code", "client_id": "allyproof-sandbox",
                                               "client_secret": "nope", "code": h.code(), "redirect_uri": REDIRECT})
    assert resp.status_code == 401 and resp.json()["error"] == "access_denied"


def test_form_encoded_token_request_is_accepted(h):
    resp = h.client.post("/oauth/token", data={"grant_type": "authorization_code", "client_id": "allyproof-sandbox",
                                               "client_secret": "sandbox-client-secret", "code": h.code(),
                                               "redirect_uri": REDIRECT})
    assert resp.status_code == 200


def test_unsupported_grant_type(h):
    assert h.token_request(grant_type="password").json()["error"] == "unsupported_grant_type"


def test_access_token_expires_after_an_hour(h, sb, tokens):
    assert h.api("GET", "project/ACME", tokens).status_code == 200
    sb.clock.advance(3600)
    resp = h.api("GET", "project/ACME", tokens)
    assert resp.status_code == 401 and resp.json() == {"code": 401, "message": "Unauthorized"}


def test_refresh_rotates_and_new_pair_works(h, sb, tokens):
    sb.clock.advance(3700)
    data = h.refresh(tokens.refresh).json()
    assert data["refresh_token"] != tokens.refresh and data["access_token"] != tokens.access
    resp = h.client.get(f"/ex/jira/{DEMO_AGENCY_ID}/rest/api/3/project/ACME",
                        headers={"Authorization": f"Bearer {data['access_token']}"})
    assert resp.status_code == 200


def test_reuse_within_leeway_returns_a_fresh_valid_pair(h, sb, tokens):
    first = h.refresh(tokens.refresh).json()
    sb.clock.advance(599)
    again = h.refresh(tokens.refresh)
    assert again.status_code == 200
    assert h.refresh(again.json()["refresh_token"]).status_code == 200
    assert h.refresh(first["refresh_token"]).status_code == 200  # still inside its own leeway


def test_reuse_outside_leeway_revokes_the_whole_grant(h, sb, tokens):
    newer = h.refresh(tokens.refresh).json()
    sb.clock.advance(601)
    reuse = h.refresh(tokens.refresh)
    assert reuse.status_code == 403 and reuse.json() == INVALID_REFRESH
    # every token of the grant is dead, access tokens included; the user must consent again
    assert h.refresh(newer["refresh_token"]).json() == INVALID_REFRESH
    assert h.client.get(f"/ex/jira/{DEMO_AGENCY_ID}/rest/api/3/project/ACME",
                        headers={"Authorization": f"Bearer {newer['access_token']}"}).status_code == 401
    assert h.login().access  # a fresh consent works again


def test_refresh_token_dies_after_90_days_unused(h, sb, tokens):
    sb.clock.advance(days=90, seconds=1)
    assert h.refresh(tokens.refresh).json() == INVALID_REFRESH


def test_each_rotation_resets_the_inactivity_window(h, sb, tokens):
    current = tokens.refresh
    for _ in range(3):
        sb.clock.advance(days=60)
        current = h.refresh(current).json()["refresh_token"]


def test_unknown_refresh_token(h):
    assert h.refresh("sbx-rt-nope").json() == INVALID_REFRESH


def test_accessible_resources_lists_sites_and_a_confluence_entry_sharing_an_id(h, tokens):
    resources = h.client.get("/oauth/token/accessible-resources", headers=tokens.headers).json()
    ids = [r["id"] for r in resources]
    assert ids.count(DEMO_AGENCY_ID) == 2 and OTHER_AGENCY_ID in ids
    jira = [r for r in resources if "read:jira-work" in r["scopes"]]
    assert {r["name"] for r in jira} == {"Demo Agency", "Other Agency"}
    assert all({"id", "url", "name", "scopes", "avatarUrl"} <= set(r) for r in resources)
    assert h.client.get("/oauth/token/accessible-resources").status_code == 401
