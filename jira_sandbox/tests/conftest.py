"""Fixtures: a sandbox on a frozen clock, an httpx client mounted in-process, an OAuth helper."""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from jira_sandbox import DEMO_AGENCY_ID, Sandbox, SandboxConfig, specs

SCOPES = "read:jira-work write:jira-work read:jira-user manage:jira-webhook offline_access"
REDIRECT = "https://allyproof.test/integrations/jira/callback"
T0 = 1_790_000_000.0  # a fixed instant, well after March 2026

SPECS_PRESENT = (specs.atlassian_dir() / specs.OPENAPI_FILE).is_file() and (
    specs.atlassian_dir() / specs.ADF_FILE).is_file()
requires_specs = pytest.mark.skipif(
    not SPECS_PRESENT and os.environ.get("ALLYPROOF_REQUIRE_SERVICES") != "1",
    reason=f"Atlassian OpenAPI/ADF files not found in {specs.atlassian_dir()} (set ALLYPROOF_ATLASSIAN_DIR)")


def authorize_params(**over: str) -> dict[str, str]:
    return {"audience": "api.atlassian.com", "client_id": "allyproof-sandbox", "scope": SCOPES,
            "redirect_uri": REDIRECT, "state": "st-1", "response_type": "code", "prompt": "consent", **over}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


@dataclass
class Tokens:
    access: str
    refresh: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


class Harness:
    """A sandbox plus the calls a 3LO app makes, so tests read like the product's flow."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.client = httpx.Client(transport=httpx.WSGITransport(app=sb), base_url="http://sandbox.test")

    def code(self, **over: str) -> str:
        self.sb.auto_approve = True
        resp = self.client.get("/authorize", params=authorize_params(**over))
        assert resp.status_code == 302, resp.text
        return query_of(resp.headers["location"])["code"]

    def token_request(self, **body: str) -> httpx.Response:
        return self.client.post("/oauth/token", json={"client_id": "allyproof-sandbox",
                                                      "client_secret": "sandbox-client-secret", **body})

    def login(self, scope: str = SCOPES) -> Tokens:
        data = self.token_request(grant_type="authorization_code", code=self.code(scope=scope),
                                  redirect_uri=REDIRECT).json()
        return Tokens(data["access_token"], data.get("refresh_token"))

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token_request(grant_type="refresh_token", refresh_token=refresh_token)

    def api(self, method: str, path: str, tokens: Tokens, cloud_id: str = DEMO_AGENCY_ID, **kw) -> httpx.Response:
        return self.client.request(method, f"/ex/jira/{cloud_id}/rest/api/3/{path.lstrip('/')}",
                                   headers=tokens.headers, **kw)

    def create(self, tokens: Tokens, summary: str = "Images lack alt text", project: str = "ACME",
               issuetype: str = "Bug", **fields) -> httpx.Response:
        body = {"fields": {"project": {"key": project}, "issuetype": {"name": issuetype}, "summary": summary,
                           **fields}}
        return self.api("POST", "issue", tokens, json=body)


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(SandboxConfig.default())
    sandbox.clock.freeze(T0)
    sandbox.sleep = sandbox.clock.advance  # latency faults move the sandbox clock, not the test
    return sandbox


@pytest.fixture
def h(sb: Sandbox) -> Harness:
    return Harness(sb)


@pytest.fixture
def tokens(h: Harness) -> Tokens:
    return h.login()


def adf_doc(*texts: str) -> dict:
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]} for t in texts]}
