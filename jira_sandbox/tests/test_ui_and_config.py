"""The watch-it-by-hand page, configuration loading and persistence."""
from __future__ import annotations

import json

import pytest

from jira_sandbox import Sandbox, SandboxConfig


def test_pages_show_sites_issues_and_move_an_issue_to_done(h, sb, tokens):
    deliveries = []
    sb.webhook_sender = lambda url, headers, body: deliveries.append(url) or 200
    h.api("POST", "webhook", tokens, json={"url": "https://allyproof.test/wh", "webhooks": [
        {"events": ["jira:issue_updated"], "jqlFilter": "project = ACME"}]})
    key = h.create(tokens, summary="Buttons need names").json()["key"]
    assert "Demo Agency" in h.client.get("/").text
    site = h.client.get("/sites/demo-agency").text
    assert key in site and "Buttons need names" in site
    page = h.client.get(f"/sites/demo-agency/browse/{key}").text
    assert "In Progress" in page and "Done" in page
    resp = h.client.post(f"/sites/demo-agency/browse/{key}", data={"action": "transition", "status": "Done"})
    assert resp.status_code == 303
    assert sb.get_issue(None, key)["fields"]["status"]["name"] == "Done"
    assert deliveries == ["https://allyproof.test/wh"]
    page = h.client.get(f"/sites/demo-agency/browse/{key}").text
    assert "jira:issue_updated" in page  # the delivery it caused
    h.client.post(f"/sites/demo-agency/browse/{key}", data={"action": "comment", "text": "Checked by hand"})
    assert "Checked by hand" in h.client.get(f"/sites/demo-agency/browse/{key}").text
    assert "Webhook deliveries" in h.client.get("/ui/deliveries").text


def test_default_world(sb):
    cfg = sb.cfg
    assert (cfg.client_id, cfg.client_secret) == ("allyproof-sandbox", "sandbox-client-secret")
    assert [a.display_name for a in cfg.accounts] == ["Dana Admin"]
    demo, other = cfg.sites
    assert demo.url == "https://demo-agency.atlassian.net" and demo.confluence
    assert [p.key for p in demo.projects] == ["ACME", "BETA", "WEB"] and [p.key for p in other.projects] == ["OPS"]
    assert "Bug" not in demo.projects[1].issue_types
    assert {s.name: s.category for s in cfg.statuses} == {"To Do": "new", "In Progress": "indeterminate",
                                                          "Done": "done"}


def test_from_file_and_env(tmp_path):
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"client_id": "mine", "timing": {"index_delay": 2.5},
                                "rate_limits": {"global_points_per_hour": 100}}))
    cfg = SandboxConfig.from_file(path)
    assert cfg.client_id == "mine" and cfg.timing.index_delay == 2.5 and cfg.rate_limits.global_points_per_hour == 100
    assert len(cfg.sites) == 2  # unspecified parts come from the default world
    cfg.with_env({"ATLASSIAN_CLIENT_ID": "from-env", "ATLASSIAN_CLIENT_SECRET": "s3cret"})
    assert (cfg.client_id, cfg.client_secret) == ("from-env", "s3cret")
    with pytest.raises(ValueError):
        SandboxConfig.from_dict({"timing": {"bogus": 1}})


def test_state_persists_to_a_file(tmp_path):
    state = str(tmp_path / "state.pickle")
    first = Sandbox(SandboxConfig.from_dict({"state_file": state}))
    first.create_issue(None, "ACME", "Persisted", "Bug")
    first.save()
    second = Sandbox(SandboxConfig.from_dict({"state_file": state}))
    assert [i["fields"]["summary"] for i in second.issues()] == ["Persisted"]
    assert second.create_issue(None, "ACME", "Next")["key"] == "ACME-2"
