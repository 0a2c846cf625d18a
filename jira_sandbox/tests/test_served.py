"""Served mode: real sockets, so timeouts hang, resets reset and dropped responses close early."""
from __future__ import annotations

import threading

import httpx
import pytest

from jira_sandbox import Sandbox, SandboxConfig
from jira_sandbox.serve import make_server

from .conftest import REDIRECT, authorize_params, query_of


@pytest.fixture
def served():
    cfg = SandboxConfig.default()
    server = make_server(Sandbox(cfg), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_port}"
    cfg.with_local_site_urls(base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.get_app(), base
    server.shutdown()
    server.server_close()


def _login(base: str, sb: Sandbox) -> dict[str, str]:
    sb.auto_approve = True
    loc = httpx.get(f"{base}/authorize", params=authorize_params()).headers["location"]
    tok = httpx.post(f"{base}/oauth/token", json={"grant_type": "authorization_code", "code": query_of(loc)["code"],
                                                  "client_id": "allyproof-sandbox",
                                                  "client_secret": "sandbox-client-secret",
                                                  "redirect_uri": REDIRECT}).json()
    return {"Authorization": f"Bearer {tok['access_token']}"}


def test_served_faults_behave_like_a_network(served):
    sb, base = served
    headers = _login(base, sb)
    api = f"{base}/ex/jira/{sb.cfg.sites[0].cloud_id}/rest/api/3"
    body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Bug"}, "summary": "s"}}
    created = httpx.post(f"{api}/issue", json=body, headers=headers).json()
    assert created["self"] == f"{base}/sites/demo-agency/rest/api/3/issue/10000"
    assert httpx.get(f"{base}/sites/demo-agency/browse/ACME-1").status_code == 200  # "open in Jira" works

    sb.faults.add(method="POST", path=r"/issue$", kind="timeout", seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{api}/issue", json=body, headers=headers, timeout=0.3)

    sb.faults.add(method="GET", path=r"/project/", kind="reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(f"{api}/project/ACME", headers=headers)

    sb.faults.add(method="POST", path=r"/issue$", kind="drop_response_after_commit")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{api}/issue", json=body, headers=headers)
    assert [i["key"] for i in sb.issues()] == ["ACME-1", "ACME-2"]  # the timeout created nothing; the drop did


def test_deliver_to_posts_to_a_local_base_with_the_registered_host_and_scheme_in_headers(served):
    """`serve --deliver-to`: the sandbox stands where a TLS proxy would, so an https:// app can run locally."""
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[tuple[str, str, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers["Host"], self.headers["X-Forwarded-Proto"]))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    sb, base = served
    sb.deliver_to = f"http://127.0.0.1:{receiver.server_port}"
    headers = _login(base, sb)
    api = f"{base}/ex/jira/{sb.cfg.sites[0].cloud_id}/rest/api/3"
    url = "https://allyproof.example.test/integrations/jira/webhook/tok"
    httpx.post(f"{api}/webhook", json={"url": url, "webhooks": [{"events": ["jira:issue_updated"],
                                                                   "jqlFilter": "project = ACME"}]}, headers=headers)
    body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Bug"}, "summary": "s"}}
    key = httpx.post(f"{api}/issue", json=body, headers=headers).json()["key"]
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    receiver.shutdown()
    assert seen == [("/integrations/jira/webhook/tok", "allyproof.example.test", "https")]
    listed = httpx.get(f"{base}/_sandbox/sites/{sb.cfg.sites[0].cloud_id}/issues").json()
    assert listed == [{"key": key, "labels": [], "status": "Done", "category": "done"}]
    assert json.loads(httpx.get(f"{base}/_sandbox/sites/nope/issues").text)["errorMessages"]
