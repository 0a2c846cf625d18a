"""Dynamic webhooks: registration rules, jqlFilter matching, expiry and refresh, delivery with a
HS256 JWT, identifiers stable across retries, the retry schedule, delivery faults."""
from __future__ import annotations

import json

import jwt
import pytest

from jira_sandbox import DEMO_AGENCY_ID

URL = "https://allyproof.test/integrations/jira/webhook"
DAY = 86400


class Receiver:
    """The app's webhook endpoint: records each call and answers the next scripted status."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, dict]] = []
        self.statuses: list[int | Exception] = []

    def __call__(self, url: str, headers: dict, body: bytes) -> int:
        self.calls.append((url, headers, json.loads(body)))
        answer = self.statuses.pop(0) if self.statuses else 200
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def rx(sb) -> Receiver:
    receiver = Receiver()
    sb.webhook_sender = receiver
    return receiver


def register(h, tokens, *items, url=URL):
    resp = h.api("POST", "webhook", tokens, json={"url": url, "webhooks": list(items)})
    assert resp.status_code == 200, resp.text
    return resp.json()["webhookRegistrationResult"]


def hook(jql="project IN (ACME, WEB)", events=("jira:issue_updated", "jira:issue_deleted"), **kw):
    return {"events": list(events), "jqlFilter": jql, **kw}


def test_register_returns_ids_and_per_item_errors_in_order(h, tokens):
    result = register(h, tokens, hook(), hook("labels = x"), hook("project = WEB AND watchCount = 1"), hook())
    assert result == [{"createdWebhookId": 1000}, {"errors": ["The clause labels is unsupported"]},
                      {"errors": ["The clause watchCount is unsupported"]}, {"createdWebhookId": 1001}]


def test_at_most_five_per_app_per_user_per_site(h, tokens):
    result = register(h, tokens, *[hook() for _ in range(6)])
    assert [r.get("createdWebhookId") for r in result[:5]] == [1000, 1001, 1002, 1003, 1004]
    assert "errors" in result[5] and "limited to 5" in result[5]["errors"][0]
    # another site has its own allowance
    other = h.sb.cfg.sites[1].cloud_id
    resp = h.api("POST", "webhook", tokens, cloud_id=other, json={"url": URL, "webhooks": [hook("project = OPS")]})
    assert "createdWebhookId" in resp.json()["webhookRegistrationResult"][0]
    # deleting frees a slot
    assert h.api("DELETE", "webhook", tokens, json={"webhookIds": [1000]}).status_code == 202
    assert "createdWebhookId" in register(h, tokens, hook())[0]


def test_list_shows_expiry_30_days_out(h, sb, tokens):
    register(h, tokens, hook(fieldIdsFilter=["status"]))
    page = h.api("GET", "webhook", tokens).json()
    assert page["total"] == 1 and page["isLast"] is True
    value = page["values"][0]
    assert value["id"] == 1000 and value["url"] == URL and value["fieldIdsFilter"] == ["status"]
    assert value["expirationDate"] == int((sb.clock.now() + 30 * DAY) * 1000)


def test_transition_delivers_issue_updated_with_changelog_and_category(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.transition_issue(None, key, "Done")
    assert sb.deliver_pending() == 1
    url, headers, body = rx.calls[0]
    assert url == URL and body["webhookEvent"] == "jira:issue_updated"
    assert body["issue_event_type_name"] == "issue_generic" and body["matchedWebhookIds"] == [1000]
    assert body["timestamp"] == int(sb.clock.now() * 1000)
    status_item = next(i for i in body["changelog"]["items"] if i["field"] == "status")
    assert (status_item["fromString"], status_item["toString"]) == ("To Do", "Done")
    assert body["issue"]["key"] == key
    assert body["issue"]["self"] == f"https://demo-agency.atlassian.net/rest/api/2/issue/{body['issue']['id']}"
    assert body["issue"]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert "X-Atlassian-Webhook-Retry" not in headers and headers["X-Atlassian-Webhook-Identifier"]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_jwt_is_hs256_signed_with_the_client_secret(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.transition_issue(None, key, "In Progress")
    sb.deliver_pending()
    token = rx.calls[0][1]["Authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, "sandbox-client-secret", algorithms=["HS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["exp"] - claims["iat"] == 180 and claims["iss"] == "allyproof-sandbox"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "wrong-secret", algorithms=["HS256"], options={"verify_exp": False})


def test_comment_and_edit_and_delete_events(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    h.api("POST", f"issue/{key}/comment", tokens, json={"body": {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Reopened"}]}]}})
    h.api("PUT", f"issue/{key}", tokens, json={"fields": {"summary": "Renamed"}})
    h.api("DELETE", f"issue/{key}", tokens)
    sb.deliver_pending()
    events = [(c[2]["webhookEvent"], c[2].get("issue_event_type_name")) for c in rx.calls]
    assert events == [("jira:issue_updated", "issue_commented"), ("jira:issue_updated", "issue_updated"),
                      ("jira:issue_deleted", "issue_deleted")]
    assert rx.calls[0][2]["comment"]["body"]["content"][0]["content"][0]["text"] == "Reopened"
    assert rx.calls[1][2]["changelog"]["items"][0]["field"] == "summary"


def test_only_matching_filters_fire(h, sb, tokens, rx):
    acme = h.create(tokens).json()["key"]
    web = h.create(tokens, project="WEB").json()["key"]
    register(h, tokens, hook("project = WEB"), hook("project = WEB AND status = Done"))
    sb.transition_issue(None, acme, "Done")
    sb.transition_issue(None, web, "In Progress")
    sb.transition_issue(None, web, "Done")
    sb.deliver_pending()
    assert [c[2]["matchedWebhookIds"] for c in rx.calls] == [[1000], [1000, 1001]]
    assert all(c[2]["issue"]["key"] == web for c in rx.calls)


def test_field_ids_filter(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook(fieldIdsFilter=["status"]))
    sb.edit_issue(None, key, summary="changed")
    sb.add_comment(None, key, "hello")
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    assert [c[2]["issue_event_type_name"] for c in rx.calls] == ["issue_generic"]


def test_expired_webhooks_stop_and_refresh_extends(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.clock.advance(29 * DAY)
    tokens = h.login()  # an hour-long access token does not survive the jump
    refreshed = h.api("PUT", "webhook/refresh", tokens, json={"webhookIds": [1000, 4242]}).json()
    assert refreshed == {"expirationDate": int((sb.clock.now() + 30 * DAY) * 1000)}
    sb.clock.advance(29 * DAY)
    sb.transition_issue(None, key, "In Progress")
    sb.deliver_pending()
    assert len(rx.calls) == 1
    sb.clock.advance(1 * DAY + 1)
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    assert len(rx.calls) == 1  # expired: nothing sent


@pytest.mark.parametrize("failure", [500, 503, 408, 409, 425, 429, ConnectionError("refused")])
def test_retries_keep_the_identifier_and_count_up(h, sb, tokens, rx, failure):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.cfg.timing.retry_schedule[:] = [10, 20]
    rx.statuses = [failure, failure, 200]
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    sb.clock.advance(9)
    assert sb.deliver_pending() == 0  # not due yet
    sb.clock.advance(1)
    sb.deliver_pending()
    sb.clock.advance(20)
    sb.deliver_pending()
    ids = {c[1]["X-Atlassian-Webhook-Identifier"] for c in rx.calls}
    assert len(rx.calls) == 3 and len(ids) == 1
    assert [c[1].get("X-Atlassian-Webhook-Retry") for c in rx.calls] == [None, "1", "2"]
    assert [a.attempt for a in sb.deliveries] == [0, 1, 2] and sb.deliveries[-1].status == 200


def test_gives_up_after_the_schedule_and_does_not_retry_400(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.cfg.timing.retry_schedule[:] = [1]
    rx.statuses = [500, 500, 500]
    sb.transition_issue(None, key, "Done")
    for _ in range(3):
        sb.deliver_pending()
        sb.clock.advance(5)
    assert len(rx.calls) == 2
    rx.statuses = [400]
    sb.transition_issue(None, key, "To Do")
    sb.deliver_pending()
    sb.clock.advance(5)
    sb.deliver_pending()
    assert len(rx.calls) == 3


def test_default_schedule_is_five_retries_minutes_apart(sb):
    assert sb.cfg.timing.retry_schedule == [300, 600, 900, 900, 900]


def test_delivery_faults_drop_and_duplicate(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.faults.add_delivery(kind="drop", count=1)
    sb.transition_issue(None, key, "In Progress")
    sb.deliver_pending()
    assert rx.calls == [] and sb.deliveries[-1].error == "dropped by fault injection"
    sb.faults.add_delivery(kind="duplicate")
    sb.transition_issue(None, key, "Done")
    sb.deliver_pending()
    assert len(rx.calls) == 2
    assert rx.calls[0][1]["X-Atlassian-Webhook-Identifier"] == rx.calls[1][1]["X-Atlassian-Webhook-Identifier"]


def test_delivery_log_records_each_attempt(h, sb, tokens, rx):
    key = h.create(tokens).json()["key"]
    register(h, tokens, hook())
    sb.delete_issue(DEMO_AGENCY_ID, key)
    sb.deliver_pending()
    entry = sb.deliveries[0]
    assert (entry.event, entry.issue_key, entry.attempt, entry.status, entry.url) == (
        "jira:issue_deleted", key, 0, 200, URL)
