"""Every fault, in-process (httpx.WSGITransport) and through the HTTP control endpoints."""
from __future__ import annotations

import httpx
import pytest


def test_error_fault_answers_500_then_503_then_recovers(h, tokens):
    h.sb.faults.add(method="POST", path=r"/rest/api/3/issue$", kind="error", status=500)
    h.sb.faults.add(method="POST", path=r"/rest/api/3/issue$", kind="error", status=503)
    assert h.create(tokens).status_code == 500
    assert h.create(tokens).status_code == 503
    assert h.create(tokens).status_code == 201
    assert h.sb.issues(None)[0]["key"] == "ACME-1"  # failed calls created nothing


def test_count_and_method_matching(h, tokens):
    h.sb.faults.add(method="GET", path=r"/project/", kind="error", count=2)
    assert h.create(tokens).status_code == 201  # POST does not match
    assert [h.api("GET", "project/ACME", tokens).status_code for _ in range(3)] == [500, 500, 200]


def test_timeout_raises_httpx_timeout_in_process(h, tokens):
    h.sb.faults.add(method="POST", path=r"/rest/api/3/issue$", kind="timeout")
    with pytest.raises(httpx.TimeoutException):
        h.create(tokens)
    assert h.sb.issues(None) == [] and h.sb.requests[-1].status is None
    assert h.sb.requests[-1].fault == "timeout"


def test_reset_raises_a_transport_error(h, tokens):
    h.sb.faults.add(path=r"/rest/api/3/search/jql", kind="reset")
    with pytest.raises(httpx.ReadError):
        h.api("GET", "search/jql", tokens, params={"jql": "project = ACME"})


def test_drop_response_after_commit_creates_the_issue_but_no_answer(h, tokens):
    h.sb.faults.add(method="POST", path=r"/rest/api/3/issue$", kind="drop_response_after_commit", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        h.create(tokens, labels=["allyproof-dedupe1"])
    [issue] = h.sb.issues(None)
    assert issue["fields"]["labels"] == ["allyproof-dedupe1"]
    found = h.api("GET", "search/jql", tokens, params={"jql": "project = ACME AND labels = allyproof-dedupe1"})
    assert found.json()["issues"] == [{"id": issue["id"]}]


def test_latency_is_added(h, tokens):
    h.sb.faults.add(path=r"/project/ACME", kind="latency", seconds=3.0)
    before = h.sb.clock.now()
    assert h.api("GET", "project/ACME", tokens).status_code == 200
    assert h.sb.clock.now() - before == pytest.approx(3.0)  # the fixture sleeps on the sandbox clock


def test_faults_also_hit_the_token_endpoint(h):
    code = h.code()
    h.sb.faults.add(path=r"^/oauth/token$", kind="error", status=503)
    assert h.token_request(grant_type="authorization_code", code=code,
                           redirect_uri="https://allyproof.test/integrations/jira/callback").status_code == 503


def test_unknown_kind_is_refused(sb):
    with pytest.raises(ValueError):
        sb.faults.add(kind="explode")


def test_http_control_endpoints(h, tokens):
    resp = h.client.post("/_sandbox/faults", json={"method": "POST", "path": "/rest/api/3/issue$",
                                                   "kind": "rate_limit", "reason": "jira-burst-based",
                                                   "retry_after": 3, "count": 1})
    assert resp.status_code == 201
    assert h.client.get("/_sandbox/faults").json()[0]["kind"] == "rate_limit"
    limited = h.create(tokens)
    assert limited.status_code == 429 and limited.headers["RateLimit-Reason"] == "jira-burst-based"
    assert h.client.post("/_sandbox/faults", json={"kind": "nope"}).status_code == 400
    h.client.post("/_sandbox/faults", json={"kind": "error", "count": 5})
    assert h.client.delete("/_sandbox/faults").json() == {"faults": []}
    assert h.client.post("/_sandbox/delivery-faults", json={"kind": "duplicate"}).status_code == 201
    now = h.client.get("/_sandbox/clock").json()["now"]
    assert h.client.post("/_sandbox/clock/advance", json={"seconds": 60}).json()["now"] == now + 60


def test_http_control_acts_as_a_jira_user(h, sb, tokens):
    key = h.create(tokens).json()["key"]
    resp = h.client.post(f"/_sandbox/sites/{sb.cfg.sites[0].cloud_id}/issues/{key}",
                         json={"action": "transition", "status": "Done"})
    assert resp.json()["fields"]["status"]["name"] == "Done"
    h.client.post("/_sandbox/required-fields", json={"project_key": "ACME", "issue_type": "Bug",
                                                     "field_id": "customfield_10077", "name": "Client"})
    assert h.create(tokens).json()["errors"] == {"customfield_10077": "Client is required."}
    assert h.client.post("/_sandbox/deliver").json() == {"attempts": 0, "pending": 0}
