"""python -m jira_sandbox.bench — the sandbox's own time per request over a 200-create run
(in-process, conformance on when the Atlassian files are present)."""
from __future__ import annotations

import statistics
import time
from urllib.parse import parse_qs, urlparse

import httpx

from . import Sandbox, SandboxConfig

SCOPES = "read:jira-work write:jira-work manage:jira-webhook offline_access"


def description(n_pages: int = 20, n_samples: int = 5) -> dict:
    """About the size of the product's issue body: headings, a page list, code samples."""
    def para(text: str, **mark: str) -> dict:
        node = {"type": "text", "text": text}
        if mark:
            node["marks"] = [{"type": "link", "attrs": {"href": mark["href"]}}]
        return {"type": "paragraph", "content": [node]}
    pages = [{"type": "listItem", "content": [para(f"https://acme.test/p{i}", href=f"https://acme.test/p{i}")]}
             for i in range(n_pages)]
    samples = [{"type": "codeBlock", "attrs": {"language": "html"},
                "content": [{"type": "text", "text": f"<img src='{i}.png'>"}]} for i in range(n_samples)]
    return {"type": "doc", "version": 1, "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Images need alt text"}]},
        para("Impact: critical. WCAG 1.1.1."), {"type": "bulletList", "content": pages}, *samples]}


def run(n: int = 200) -> dict[str, float]:
    sb = Sandbox(SandboxConfig.default())
    sb.auto_approve = True
    client = httpx.Client(transport=httpx.WSGITransport(app=sb), base_url="http://sandbox.test")
    loc = client.get("/authorize", params={"audience": "api.atlassian.com", "client_id": sb.cfg.client_id,
                                           "scope": SCOPES, "redirect_uri": "http://app.test/cb", "state": "s",
                                           "response_type": "code", "prompt": "consent"}).headers["location"]
    code = parse_qs(urlparse(loc).query)["code"][0]
    tok = client.post("/oauth/token", json={"grant_type": "authorization_code", "code": code,
                                            "client_id": sb.cfg.client_id, "client_secret": sb.cfg.client_secret,
                                            "redirect_uri": "http://app.test/cb"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {tok}"}
    url = f"/ex/jira/{sb.cfg.sites[0].cloud_id}/rest/api/3/issue"
    desc = description()
    sb.requests.clear()
    sb.clock.freeze()  # 20 creates a second on the sandbox clock: inside Atlassian's burst limit
    started = time.perf_counter()
    for i in range(n):
        body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Bug"}, "summary": f"Violation {i}",
                           "description": desc, "labels": [f"allyproof-{i:04x}"]},
                "properties": [{"key": "allyproof.dedupe", "value": {"key": f"k{i}"}}]}
        assert client.post(url, json=body, headers=headers).status_code == 201
        sb.clock.advance(0.05)
    wall = (time.perf_counter() - started) / n
    inside = [r.duration for r in sb.requests]
    return {"requests": n, "conformance": sb.conformance.enabled, "mean_ms": statistics.mean(inside) * 1000,
            "p95_ms": sorted(inside)[int(0.95 * n) - 1] * 1000, "client_wall_ms": wall * 1000,
            "failures": len(sb.conformance.failures)}


if __name__ == "__main__":
    result = run()
    print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
