"""Deliveries as Jira Cloud sends them under load: changelog and status-change time in every body,
per-URL registrations seen by every app sharing one account, late redeliveries under new identifiers,
delays, reordering, same-millisecond changes, and a site whose search leaves a missing key out."""
from __future__ import annotations

from jira_sandbox.clock import jira_time
from jira_sandbox.tests.test_webhooks import URL, hook, register, rx  # noqa: F401 (fixture)

OTHER_URL = "https://allyproof.test/integrations/jira/webhook/other-org"


def _bodies(rx):
    return [c[2] for c in rx.calls]


def test_a_status_change_carries_changelog_id_items_and_the_category_change_time(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.clock.advance(60)
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    body = _bodies(rx)[0]
    assert body["changelog"]["id"].isdigit()
    status = next(i for i in body["changelog"]["items"] if i["field"] == "status")
    assert set(status) >= {"field", "fieldtype", "fieldId", "from", "fromString", "to", "toString"}
    fields = body["issue"]["fields"]
    assert fields["status"]["statusCategory"] == {**fields["status"]["statusCategory"], "key": "done", "id": 3}
    assert fields["statuscategorychangedate"] == jira_time(sb.clock.now())
    assert body["timestamp"] == int(round(sb.clock.now() * 1000))


def test_two_connections_sharing_an_account_list_each_others_registrations(h, sb, tokens, rx):
    mine = register(h, tokens, hook("project = ACME"), url=URL)[0]["createdWebhookId"]
    theirs = register(h, tokens, hook("project = WEB"), url=OTHER_URL)[0]["createdWebhookId"]
    listed = {v["id"]: v["url"] for v in h.api("GET", "webhook", tokens).json()["values"]}
    assert listed == {mine: URL, theirs: OTHER_URL}  # only the URL tells them apart
    key = h.create(tokens, project="WEB").json()["key"]
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    assert [c[0] for c in rx.calls] == [OTHER_URL]  # delivered to the URL it was registered with


def test_the_fifth_registration_is_the_last(h, tokens):
    results = register(h, tokens, *[hook() for _ in range(5)], url=URL)
    assert all("createdWebhookId" in r for r in results)
    refused = register(h, tokens, hook(), url=OTHER_URL)[0]
    assert "limited to 5" in refused["errors"][0]


def test_a_late_redelivery_has_a_new_identifier_and_arrives_after_later_changes(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.faults.add_delivery(kind="redeliver", seconds=600)
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    sb.clock.advance(60)
    sb.transition_issue(None, key, "To Do")
    sb.deliver_pending()
    sb.clock.advance(600)
    sb.deliver_pending()
    events = [(c[2]["changelog"]["items"][0]["toString"], c[1]["X-Atlassian-Webhook-Identifier"]) for c in rx.calls]
    assert [e[0] for e in events] == ["Done", "To Do", "Done"]
    assert events[0][1] != events[2][1] and _bodies(rx)[0] == _bodies(rx)[2]


def test_delay_and_reorder_change_the_arrival_order(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.faults.add_delivery(kind="reorder")
    sb.transition_issue(None, key, "In Progress")
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    assert [b["changelog"]["items"][0]["toString"] for b in _bodies(rx)] == ["Done", "In Progress"]
    sb.faults.add_delivery(kind="delay", seconds=120)
    sb.transition_issue(None, key, "To Do")
    assert sb.deliver_pending() == 0
    sb.clock.advance(120)
    assert sb.deliver_pending() == 1


def test_changes_in_the_same_millisecond_share_a_timestamp_not_a_changelog(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.clock.unfreeze()
    resp = h.client.post(f"/_sandbox/sites/{sb.cfg.sites[0].cloud_id}/issues/{key}", json={"actions": [
        {"action": "edit", "fields": {"summary": "Renamed"}}, {"action": "transition", "status": "Done"}]})
    assert resp.status_code == 200, resp.text
    sb.deliver_pending()
    first, second = _bodies(rx)
    assert first["timestamp"] == second["timestamp"]
    assert first["changelog"]["id"] != second["changelog"]["id"]
    bad = h.client.post(f"/_sandbox/sites/{sb.cfg.sites[0].cloud_id}/issues/{key}", json={"action": "fly"})
    assert bad.status_code == 400 and "action must be" in bad.text


def test_the_same_millisecond_keeps_a_frozen_clock_where_it_is(sb):
    sb.clock.freeze(1_000_000_000.0)  # long before the wall clock: re-freezing would jump to now
    with sb.same_millisecond():
        assert sb.clock.now() == 1_000_000_000.0
    assert sb.clock.frozen and sb.clock.now() == 1_000_000_000.0


def test_search_can_leave_a_missing_key_out_instead_of_refusing(h, sb, tokens):
    a, b = h.create(tokens).json()["key"], h.create(tokens).json()["key"]
    sb.delete_issue(None, b)
    jql = f"key IN ({a}, {b})"
    assert h.api("POST", "search/jql", tokens, json={"jql": jql, "fields": ["status"]}).status_code == 400
    cloud = sb.cfg.sites[0].cloud_id
    assert h.client.post(f"/_sandbox/sites/{cloud}/options", json={"search_omits_missing_keys": True}).json() == {
        "search_omits_missing_keys": True, "webhooks_omit_status_change_date": False}
    found = h.api("POST", "search/jql", tokens, json={"jql": jql, "fields": ["status"]})
    assert found.status_code == 200 and [i["key"] for i in found.json()["issues"]] == [a]
    assert h.client.post("/_sandbox/sites/nope/options", json={}).status_code == 404


def test_webhook_bodies_can_come_in_the_older_shape_without_the_category_change_time(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    cloud = sb.cfg.sites[0].cloud_id
    assert h.client.post(f"/_sandbox/sites/{cloud}/options", json={"webhooks_omit_status_change_date": True}).json(
        )["webhooks_omit_status_change_date"] is True
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    body = _bodies(rx)[0]
    assert "statuscategorychangedate" not in body["issue"]["fields"]
    assert any(i["field"] == "status" for i in body["changelog"]["items"])  # the changelog still tells
    fetched = h.api("GET", f"issue/{key}", tokens).json()["fields"]
    assert fetched["statuscategorychangedate"] == jira_time(sb.clock.now())  # only webhooks drop it


def test_bad_delivery_faults_are_refused(h):
    assert h.client.post("/_sandbox/delivery-faults", json={"kind": "explode"}).status_code == 400
    assert h.client.post("/_sandbox/delivery-faults", json={"kind": "delay", "seconds": -1}).status_code == 400
    ok = h.client.post("/_sandbox/delivery-faults", json={"kind": "delay", "seconds": 5})
    assert ok.status_code == 201 and ok.json()["seconds"] == 5


def test_the_request_log_gives_a_whole_run_from_a_noted_count(h, sb, tokens):
    before = len(sb.requests)
    for _ in range(510):
        h.api("GET", "myself", tokens)
    assert len(h.client.get("/_sandbox/requests").json()) == 500  # the default keeps the last 500
    run = h.client.get(f"/_sandbox/requests?from={before}").json()
    assert len(run) == 510 and all(r["path"].endswith("/myself") for r in run)
    assert h.client.get("/_sandbox/requests?from=x").json()[-1]["path"].endswith("/myself")  # not a count: last 500
