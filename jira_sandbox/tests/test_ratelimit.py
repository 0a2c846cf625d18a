"""Rate limits since March 2026: each RateLimit-Reason with its headers, and NearLimit."""
from __future__ import annotations

from datetime import datetime, UTC

import pytest

from jira_sandbox import Sandbox, SandboxConfig

from .conftest import T0, Harness


def harness(**limits) -> Harness:
    cfg = SandboxConfig.from_dict({"rate_limits": limits})
    sb = Sandbox(cfg)
    sb.clock.freeze(T0)
    return Harness(sb)


def assert_429(resp, reason: str, limit: int) -> None:
    assert resp.status_code == 429
    assert resp.headers["RateLimit-Reason"] == reason
    assert resp.headers["X-RateLimit-Limit"] == str(limit)
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    assert int(resp.headers["Retry-After"]) >= 1
    datetime.strptime(resp.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%SZ")


def test_global_quota_denies_everything_until_the_hour_turns():
    h = harness(global_points_per_hour=5, site_points_per_hour=None)
    tokens = h.login()
    assert [h.api("GET", "project/ACME", tokens).status_code for _ in range(3)] == [200, 200, 200]  # 2 points each
    resp = h.api("GET", "project/ACME", tokens)
    assert_429(resp, "jira-quota-global-based", 5)
    other_site = h.sb.cfg.sites[1].cloud_id
    assert h.api("GET", "project/OPS", tokens, cloud_id=other_site).status_code == 429  # shared by all sites
    reset = datetime.strptime(resp.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert reset.minute == 0 and reset.second == 0
    assert int(resp.headers["Retry-After"]) == int(reset.timestamp() - h.sb.clock.now()) or \
        abs(int(resp.headers["Retry-After"]) - (reset.timestamp() - h.sb.clock.now())) < 1
    h.sb.clock.advance(int(resp.headers["Retry-After"]))
    assert h.api("GET", "project/ACME", tokens).status_code == 200


def test_tenant_quota_is_per_site():
    h = harness(global_points_per_hour=10_000, site_points_per_hour=3)
    tokens = h.login()
    statuses = [h.api("POST", "issue", tokens, json={"fields": {}}).status_code for _ in range(4)]
    assert statuses[-1] == 429
    assert_429(h.api("GET", "project/ACME", tokens), "jira-quota-tenant-based", 3)
    assert h.api("GET", "project/OPS", tokens, cloud_id=h.sb.cfg.sites[1].cloud_id).status_code == 200


def test_burst_limit_per_endpoint_and_method_refills():
    h = harness(burst={"GET": 3, "POST": 100, "PUT": 50, "DELETE": 50}, burst_overrides={})
    tokens = h.login()
    assert [h.api("GET", "project/ACME", tokens).status_code for _ in range(3)] == [200] * 3
    assert_429(h.api("GET", "project/ACME", tokens), "jira-burst-based", 3)
    assert h.api("GET", "issue/createmeta/ACME/issuetypes", tokens).status_code == 200  # another endpoint
    h.sb.clock.advance(1)
    assert h.api("GET", "project/ACME", tokens).status_code == 200


def test_per_issue_write_limits():
    h = harness(per_issue_writes=[[3, 2], [5, 30]])
    tokens = h.login()
    key = h.create(tokens).json()["key"]
    put = lambda: h.api("PUT", f"issue/{key}/properties/p", tokens, json={"n": 1})  # noqa: E731
    assert [put().status_code for _ in range(3)] == [201, 200, 200]
    assert_429(put(), "jira-per-issue-on-write", 3)
    assert h.api("GET", f"issue/{key}", tokens).status_code == 200  # reads are not limited
    h.sb.clock.advance(2)
    assert [put().status_code for _ in range(2)] == [200, 200]
    assert_429(put(), "jira-per-issue-on-write", 5)  # the 30-second window now


def test_near_limit_header_below_20_percent():
    h = harness(global_points_per_hour=20, site_points_per_hour=None)
    tokens = h.login()
    seen = []
    for _ in range(9):  # GET issue-free project read: 2 points each
        resp = h.api("GET", "project/ACME", tokens)
        seen.append((int(resp.headers["X-RateLimit-Remaining"]), resp.headers.get("X-RateLimit-NearLimit")))
    assert [r for r, _ in seen] == [18, 16, 14, 12, 10, 8, 6, 4, 2]
    assert all((near == "true") == (remaining < 4) for remaining, near in seen)
    assert resp.headers["RateLimit-Policy"] == '"global-app-quota";q=20;w=3600'
    assert resp.headers["RateLimit"] == '"global-app-quota";r=2;t=' + str(int(3600 - T0 % 3600))
    last = h.api("GET", "project/ACME", tokens)  # spends the last two points
    assert last.status_code == 200 and "RateLimit-Policy" not in last.headers  # absent at zero, as observed
    assert last.headers["RateLimit"].startswith('"global-app-quota";r=0;')


def test_both_pools_in_the_policy_and_beta_names_during_the_beta():
    h = harness(global_points_per_hour=100, site_points_per_hour=4, header_style="beta")
    tokens = h.login()
    served = h.api("GET", "project/ACME", tokens)
    assert served.headers["Beta-RateLimit-Policy"] == '"global-app-quota";q=100;w=3600, "tenant-app-quota";q=4;w=3600'
    assert "RateLimit-Policy" not in served.headers
    h.api("GET", "project/ACME", tokens)
    refused = h.api("GET", "project/ACME", tokens)
    assert refused.status_code == 429
    assert refused.headers["X-Beta-RateLimit-Reason"] == "jira-quota-tenant-based"
    assert int(refused.headers["Beta-Retry-After"]) >= 1 and "Retry-After" not in refused.headers
    assert refused.headers["Beta-RateLimit"].startswith('"tenant-app-quota";r=0;')


@pytest.mark.parametrize("reason", ["jira-quota-global-based", "jira-quota-tenant-based", "jira-burst-based",
                                    "jira-per-issue-on-write"])
def test_injected_429_carries_the_reason(h, tokens, reason):
    h.sb.faults.add(kind="rate_limit", path=r"/rest/api/3/issue$", method="POST", reason=reason, retry_after=7)
    resp = h.create(tokens)
    assert_429(resp, reason, 100)
    assert resp.headers["Retry-After"] == "7"
    assert h.create(tokens).status_code == 201
