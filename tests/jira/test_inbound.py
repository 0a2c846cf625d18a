"""Inbound webhooks, delivered by the sandbox as Jira delivers them: authenticate, record, dedupe,
and the one transition we act on (into Done). Forged, replayed and foreign deliveries change nothing."""

import json
import time

import jwt
import pytest

from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import (
    InboundEvent,
    JiraConnection,
    JiraLink,
    JiraSyncLog,
    OutboundWrite,
)
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_resolve
from tests.jira.conftest import NoGate, deliver_into

OLD_URL = "/integrations/jira/webhook/"
SECRET = "sandbox-client-secret"


@pytest.fixture
def linked(acme, connected, sandbox, client):
    """ACME-1 created for image-alt, the webhook registered, deliveries routed into AllyProof."""
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    violation = acme.violations.get(rule_id="image-alt")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    sandbox.webhook_sender = deliver_into(client)
    connected.refresh_from_db()
    return violation


def url_of(connection):
    return f"/integrations/jira/webhook/{connection.webhook_token}/"


def post(client, body, token=None, identifier="id-1", url=None):
    headers = {"X-Atlassian-Webhook-Identifier": identifier}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = url or url_of(JiraConnection.objects.exclude(status="disconnected").get())
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def signed(secret=SECRET, algorithm="HS256", **claims):
    now = int(time.time())
    return jwt.encode({"iss": "allyproof-sandbox", "iat": now, "exp": now + 180, **claims}, secret, algorithm=algorithm)


def test_done_in_jira_resolves_the_violation(linked, sandbox):
    sandbox.transition_issue(None, "ACME-1", "In Progress")
    sandbox.deliver_pending()
    linked.refresh_from_db()
    assert linked.status == Violation.Status.OPEN  # only Done is interpreted
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    linked.refresh_from_db()
    assert linked.status == Violation.Status.RESOLVED and linked.resolved_source == "jira:ACME-1"
    outcomes = list(InboundEvent.objects.order_by("pk").values_list("outcome", "detail"))
    assert outcomes == [("ignored", "ignored: the issue is not in a Done-category status (ACME-1)"),
                        ("applied", "resolved: the issue entered Done (ACME-1)")]
    assert JiraConnection.objects.get().last_webhook_at is not None


def test_leaving_done_takes_back_the_resolution_jira_made(linked, sandbox):
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    sandbox.clock.advance(60)
    sandbox.transition_issue(None, "ACME-1", "To Do")
    sandbox.deliver_pending()
    linked.refresh_from_db()
    assert (linked.status, linked.resolved_source, linked.resolved_at) == (Violation.Status.OPEN, "", None)
    assert InboundEvent.objects.order_by("pk").last().detail.startswith("reopened: the issue left Done")


@pytest.mark.parametrize("resolved_by", ["scan", "person"])
def test_leaving_done_keeps_a_resolution_jira_did_not_make(linked, sandbox, owner, resolved_by):
    """Only Jira's own resolution is Jira's to take back: a scan's or a person's stays."""
    if resolved_by == "scan":
        violation_resolve(violation=linked, source="scan:7")
    else:
        violation_resolve(violation=linked, by=owner)
    sandbox.transition_issue(None, "ACME-1", "In Progress")
    sandbox.deliver_pending()
    linked.refresh_from_db()
    assert linked.status == Violation.Status.RESOLVED
    assert linked.resolved_source == ("scan:7" if resolved_by == "scan" else "")
    assert InboundEvent.objects.order_by("pk").last().outcome == InboundEvent.Outcome.IGNORED


def test_a_redelivery_with_the_same_identifier_changes_nothing(linked, sandbox):
    sandbox.faults.add_delivery(kind="duplicate", count=1)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    sandbox.deliver_pending()
    assert InboundEvent.objects.count() == 1
    assert len([d for d in sandbox.deliveries if d.status in (200, 202)]) >= 2  # 202 received, 200 duplicate


def test_our_own_comment_is_an_echo(linked, sandbox, connected):
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    comment = client_for(connected, gate=NoGate()).add_comment(
        "ACME-1", {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "AllyProof detected this violation again."}]}]})
    OutboundWrite.objects.create(cloud_id=connected.cloud_id, issue_key="ACME-1", kind="comment",
                                 jira_id=str(comment["id"]), created_at=linked.first_detected_at)
    sandbox.deliver_pending()
    last = InboundEvent.objects.order_by("pk").last()
    assert (last.outcome, last.detail) == (InboundEvent.Outcome.ECHO, "ignored: our own comment")
    line = JiraSyncLog.objects.filter(direction="inbound").order_by("pk").last()
    assert (line.outcome, line.code, line.message, line.violation_id) == (
        "echo", "our_comment", "ignored: our own comment", linked.pk)


def test_deleted_in_jira_makes_the_violation_pushable_again(linked, sandbox):
    sandbox.delete_issue(None, "ACME-1")
    sandbox.deliver_pending()
    link = JiraLink.objects.get(violation=linked)
    assert link.status == JiraLink.Status.DELETED and link.deleted_at  # kept as history
    assert not JiraLink.objects.filter(violation=linked, status__in=["creating", "linked"]).exists()


def test_an_issue_we_did_not_create_is_ignored(linked, sandbox):
    sandbox.create_issue(None, "ACME", "someone else's bug", "Bug")
    sandbox.transition_issue(None, "ACME-2", "Done")
    sandbox.deliver_pending()
    assert InboundEvent.objects.get().detail == "ignored: not an issue AllyProof created"


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (None, "missing bearer token"),
        ("not-a-jwt", "malformed token"),
        ("forged", "token rejected (InvalidSignatureError)"),
        ("none-alg", "algorithm 'none' is not accepted"),
        ("hs512", "algorithm 'HS512' is not accepted"),
        ("expired", "token rejected (ExpiredSignatureError)"),
    ],
)
def test_forged_or_stale_tokens_are_refused_before_the_body_is_read(client, connected, token, detail):
    tokens = {
        None: None, "not-a-jwt": "not-a-jwt",
        "forged": signed(secret="not-our-secret-but-long-enough-32b"),
        "none-alg": jwt.encode({"iss": "x"}, None, algorithm="none"),
        "hs512": signed(algorithm="HS512"),
        "expired": signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000),
    }
    response = client.post(url_of(connected), "this is not even JSON", content_type="application/json",
                           headers={"Authorization": f"Bearer {tokens[token]}"} if tokens[token] else {})
    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated", "detail": detail}
    assert not InboundEvent.objects.exists()
    refused = JiraSyncLog.objects.get()  # the refusal leaves a trace, never the token
    assert (refused.outcome, refused.code, refused.message, refused.connection) == (
        "refused", "unauthenticated", detail, connected)
    if tokens[token]:
        assert tokens[token] not in str(list(JiraSyncLog.objects.values()))


@pytest.mark.parametrize(("body", "detail"), [(b"{not json", "the body is not JSON"),
                                              (b'{"no": "event"}', "the body has no webhookEvent")])
def test_authenticated_but_malformed_bodies_are_400(client, connected, body, detail):
    response = client.post(url_of(connected), body, content_type="application/json",
                           headers={"Authorization": f"Bearer {signed()}"})
    assert response.status_code == 400 and response.json() == {"error": "bad_payload", "detail": detail}
    assert not InboundEvent.objects.exists()
    assert list(JiraSyncLog.objects.values_list("outcome", "code", "connection")) == [
        ("refused", "bad_payload", connected.pk)]  # on the connection's log


def test_an_unknown_callback_url_is_404_and_the_old_shared_url_is_gone(client, connected):
    unknown = client.post("/integrations/jira/webhook/not-a-connection/", b"{}", content_type="application/json",
                          headers={"Authorization": f"Bearer {signed()}"})
    assert unknown.status_code == 404 and unknown.json() == {"error": "unknown_url",
                                                             "detail": "no connection has this callback URL"}
    old = client.post(OLD_URL, b"{}", content_type="application/json")
    assert old.status_code == 410 and old.json()["error"] == "gone"
    assert list(JiraSyncLog.objects.values_list("outcome", "code", "connection")) == [("refused", "unknown_url", None)]


def test_an_oversized_body_is_413_before_it_is_read(client, connected):
    from allyproof.integrations.jira.inbound.intake import MAX_BODY_BYTES

    body = b'{"webhookEvent": "jira:issue_updated", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.post(url_of(connected), body, content_type="application/json",
                           headers={"Authorization": f"Bearer {signed()}"})
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert list(JiraSyncLog.objects.values_list("outcome", "code", "connection")) == [
        ("refused", "too_large", connected.pk)]
    head, tail = b'{"webhookEvent": "jira:version_released", "pad": "', b'"}'
    at_the_limit = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail  # the limit itself is allowed
    response = client.post(url_of(connected), at_the_limit, content_type="application/json",
                           headers={"Authorization": f"Bearer {signed()}", "X-Atlassian-Webhook-Identifier": "edge"})
    assert len(at_the_limit) == MAX_BODY_BYTES and response.json() == {"outcome": "ignored", "code": "unknown_event"}


def test_a_replay_under_a_new_identifier_is_a_duplicate_even_naming_the_issue_by_key_only(linked, sandbox, client):
    bodies = []
    send = sandbox.webhook_sender
    sandbox.webhook_sender = lambda url, headers, body: bodies.append(json.loads(body)) or send(url, headers, body)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    replay = bodies[0]
    response = post(client, replay, token=signed(), identifier="a-new-identifier")
    assert response.status_code == 200 and response.json() == {"outcome": "duplicate"}
    by_key = {**replay, "issue": {k: v for k, v in replay["issue"].items() if k != "id"}}
    response = post(client, by_key, token=signed(), identifier="yet-another-identifier")
    assert response.json() == {"outcome": "duplicate"}
    assert InboundEvent.objects.count() == 1
    assert list(JiraSyncLog.objects.filter(direction="inbound").values_list("outcome", flat=True)) == [
        "applied", "duplicate", "duplicate"]


def test_a_replay_naming_the_issue_by_its_new_key_after_a_move_is_still_a_duplicate(linked, sandbox, client):
    """The issue's id is its identity (a move to another project changes only the key), so the content key
    names the id whenever the delivery does."""
    bodies = []
    send = sandbox.webhook_sender
    sandbox.webhook_sender = lambda url, headers, body: bodies.append(json.loads(body)) or send(url, headers, body)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    moved = {**bodies[0], "issue": {**bodies[0]["issue"], "key": "MOVED-1"}}
    response = post(client, moved, token=signed(), identifier="a-new-identifier")
    assert response.status_code == 200 and response.json() == {"outcome": "duplicate"}
    assert InboundEvent.objects.count() == 1
    line = JiraSyncLog.objects.get(outcome="duplicate")  # found by the id: on the violation's page
    assert (line.violation_id, line.issue_key) == (linked.pk, "MOVED-1")


def test_unknown_events_and_foreign_sites_are_recorded_not_applied(linked, client, connected):
    hooks = connected.webhook_ids
    unknown = post(client, {"webhookEvent": "jira:version_released", "timestamp": 1,
                            "issue": {"self": "https://demo-agency.atlassian.net/rest/api/2/issue/9"},
                            "matchedWebhookIds": hooks}, token=signed(), identifier="u")
    foreign = post(client, {"webhookEvent": "jira:issue_updated", "timestamp": 2,
                            "issue": {"id": "10000", "key": "ACME-1", "self": "https://evil.atlassian.net/rest/api/2/issue/10000",
                                      "fields": {"status": {"statusCategory": {"key": "done"}}}},
                            "changelog": {"items": [{"field": "status"}]}, "matchedWebhookIds": hooks},
                   token=signed(), identifier="f")
    assert unknown.json() == {"outcome": "ignored", "code": "unknown_event"}
    assert foreign.status_code == 200 and foreign.json() == {"outcome": "unmatched", "code": "other_site"}
    assert dict(InboundEvent.objects.values_list("identifier", "detail")) == {
        "u": "ignored: unknown event", "f": "ignored: the issue is on another Jira site"}
    record = InboundEvent.objects.get(identifier="f")  # kept on our connection, with no dedupe key to mask ours
    assert (record.connection_id, record.event, record.issue_id, record.issue_key, record.timestamp,
            record.dedupe_key, record.outcome) == (connected.pk, "jira:issue_updated", "10000", "ACME-1", 2, None,
                                                   "unmatched")
    line = JiraSyncLog.objects.get(identifier="f")
    assert (line.connection_id, line.outcome, line.code, line.message, line.event) == (
        connected.pk, "unmatched", "other_site", "ignored: the issue is on another Jira site", "jira:issue_updated")
    linked.refresh_from_db()
    assert linked.status == Violation.Status.OPEN


def test_after_disconnect_events_change_nothing(linked, sandbox, client):
    client.post("/settings/integrations/jira/disconnect/")
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()  # the webhook is gone at Jira: nothing is even sent
    linked.refresh_from_db()
    assert linked.status == Violation.Status.OPEN


def test_an_event_we_do_not_act_on_about_our_issue_is_on_the_violations_log(linked, client, connected):
    hooks = connected.webhook_ids
    response = post(client, {"webhookEvent": "comment_created", "timestamp": 3,
                             "issue": {"id": linked_issue_id(linked), "key": "ACME-1",
                                       "self": "https://demo-agency.atlassian.net/rest/api/2/issue/10000"},
                             "comment": {"id": "77"}, "matchedWebhookIds": hooks}, token=signed(), identifier="c")
    assert response.json() == {"outcome": "ignored", "code": "not_acted_on"}
    line = JiraSyncLog.objects.get(identifier="c")
    assert (line.violation_id, line.message) == (linked.pk, "ignored: not an event we act on")


def linked_issue_id(violation):
    return JiraLink.objects.get(violation=violation).issue_id


def test_a_deliverys_access_line_names_its_outcome_and_reason_and_never_the_url_token(client, connected):
    import datetime as dt

    from allyproof.core import logs

    response = post(client, {"webhookEvent": "jira:issue_updated"}, token="not-a-jwt")
    fields = logs.access_fields(response.wsgi_request.META, "401 Unauthorized", dt.timedelta(milliseconds=3))
    assert fields["status"] == 401 and fields["outcome"] == "refused" and fields["reason"] == "unauthenticated"
    assert connected.webhook_token not in json.dumps(fields)


def test_the_receiver_path_is_exactly_a_callback_url():
    """Only a connection's callback URL takes the short path; the retired shared URL and anything
    below or beside it go through the whole stack (and its 404s, 405s and redirects)."""
    from allyproof.integrations.jira.ui.middleware import receiver_token

    assert receiver_token("/integrations/jira/webhook/abc123/") == "abc123"
    for path in ("/integrations/jira/webhook/", "/integrations/jira/webhook/abc123", "/integrations/jira/webhook/a/b/",
                 "/integrations/jira/webhooks/abc/", "/sites/"):
        assert receiver_token(path) is None, path


def test_a_get_to_a_callback_url_is_refused_as_before(client, connected):
    assert client.get(url_of(connected)).status_code == 405


def test_a_delivery_skips_the_page_stack(client, connected):
    """WebhookReceiverMiddleware answers before sessions, auth and axes look at the request."""
    response = post(client, {"webhookEvent": "jira:issue_updated"}, token="not-a-jwt")
    assert response.status_code == 401
    assert not hasattr(response.wsgi_request, "session") and not hasattr(response.wsgi_request, "user")
    page = client.get("/integrations/jira/webhook/")  # the retired URL: the whole stack, as any page
    assert hasattr(page.wsgi_request, "session")


def test_token_times_are_checked_with_the_leeway_and_only_numbers_count():
    """exp, iat and nbf against our clock with 60 s of leeway each way (mutation testing of
    `_check_times`): the edges, a time claim in the future, and a claim that is not a number."""
    import datetime as dt

    from allyproof.core import clock
    from allyproof.integrations.jira.inbound.intake import Unauthenticated, authenticate

    now = 1_800_000_000

    def outcome(at=now, **claims):
        token = jwt.encode({"iss": "allyproof-sandbox", **claims}, SECRET, algorithm="HS256")
        with clock.frozen(dt.datetime.fromtimestamp(at, dt.UTC)):
            try:
                return authenticate(f"Bearer {token}")["iss"]
            except Unauthenticated as problem:
                return str(problem)

    expired, immature = "token rejected (ExpiredSignatureError)", "token rejected (ImmatureSignatureError)"
    assert outcome(exp=now - 60) == "allyproof-sandbox"  # the leeway's edge still holds
    assert outcome(exp=now - 61) == expired
    assert outcome(exp=now + 30, iat=now - 150) == "allyproof-sandbox"  # about to expire, not expired
    assert outcome(iat=now + 60, nbf=now + 60) == "allyproof-sandbox"
    assert outcome(iat=now + 61) == immature
    assert outcome(nbf=now + 61) == immature
    assert outcome(exp="tomorrow") == "token rejected (InvalidExpError)"
    assert outcome(iat=True) == "token rejected (InvalidIatError)"
    # Atlassian does not document the claims of an OAuth 2.0 app's webhook token: an audience is not checked.
    assert outcome(aud="an-audience-we-were-never-told") == "allyproof-sandbox"
    # Only our clock counts (PyJWT's own checks would read the wall clock): valid at a time long past.
    assert outcome(at=1_600_000_000, iat=1_600_000_000, exp=1_600_000_030) == "allyproof-sandbox"
    assert outcome(sub=7) == "token rejected (InvalidSubjectError)"  # PyJWT's other refusals keep their name


def test_the_last_webhook_stamp_is_written_at_most_once_a_minute(linked, sandbox, connected, same_clock):
    """"Last update received" needs no finer grain, so a delivery within a minute of the stamp leaves it."""
    def stamp_after_a_delivery(status):
        sandbox.transition_issue(None, "ACME-1", status)
        sandbox.deliver_pending()
        connected.refresh_from_db()
        return connected.last_webhook_at

    first = stamp_after_a_delivery("In Progress")
    same_clock.advance(30)
    assert stamp_after_a_delivery("To Do") == first
    same_clock.advance(31)
    assert (stamp_after_a_delivery("In Progress") - first).total_seconds() == 61


def _done_delivery(sandbox):
    """The body Jira sends when ACME-1 moves to Done (delivered once, so it is on record)."""
    bodies = []
    send = sandbox.webhook_sender
    sandbox.webhook_sender = lambda url, headers, body: bodies.append(json.loads(body)) or send(url, headers, body)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    sandbox.webhook_sender = send
    return bodies[0]


def _replay_line(client, body, identifier):
    """Sends body under two new identifiers (the first may be new, the second is a replay); the replay's line."""
    post(client, body, token=signed(), identifier=f"{identifier}-a")
    response = post(client, body, token=signed(), identifier=f"{identifier}-b")
    assert response.status_code == 200 and response.json() == {"outcome": "duplicate"}
    return JiraSyncLog.objects.filter(outcome="duplicate").latest("pk")


def test_a_replay_naming_the_issue_by_its_id_alone_is_on_the_violations_log(linked, sandbox, client):
    body = _done_delivery(sandbox)
    by_id = {**body, "issue": {k: v for k, v in body["issue"].items() if k not in ("key", "self")}}
    line = _replay_line(client, by_id, "by-id")
    assert (line.violation_id, line.issue_key) == (linked.pk, "ACME-1")  # the key comes from our link


def test_a_replay_naming_our_key_with_an_id_we_do_not_know_is_found_by_the_key(linked, sandbox, client):
    body = _done_delivery(sandbox)
    unknown_id = {**body, "issue": {**body["issue"], "id": "999999"}}
    line = _replay_line(client, unknown_id, "unknown-id")
    assert (line.violation_id, line.issue_key) == (linked.pk, "ACME-1")


def test_a_replay_naming_an_unknown_issue_by_id_alone_names_no_issue_and_no_violation(linked, sandbox, client):
    body = _done_delivery(sandbox)
    unknown = {**body, "issue": {"id": "999999", "fields": body["issue"]["fields"]}}
    line = _replay_line(client, unknown, "unknown")
    assert (line.violation_id, line.issue_key) == (None, "")


@pytest.mark.parametrize("named", ["first_by_id", "second_by_id"])
def test_a_replays_line_follows_the_issue_id_over_a_key_another_link_holds(named, linked, acme, connected, sandbox,
                                                                          client):
    """One issue moved to a key another of our issues once had: the id is the identity, whichever link the
    lookup meets first (ACME-1's link is the older)."""
    other = acme.violations.exclude(pk=linked.pk).first()
    push.violation_push(violation=other, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(other))
    first, second = JiraLink.objects.get(violation=linked), JiraLink.objects.get(violation=other)
    assert (first.issue_key, second.issue_key) == ("ACME-1", "ACME-2")
    by_id, by_key = (first, second) if named == "first_by_id" else (second, first)
    body = _done_delivery(sandbox)
    crossed = {**body, "issue": {**body["issue"], "id": by_id.issue_id, "key": by_key.issue_key}}
    line = _replay_line(client, crossed, named)
    assert (line.violation_id, line.issue_key) == (by_id.violation_id, by_key.issue_key)


def test_a_replay_naming_no_issue_names_none_on_its_line(linked, client):
    body = {"webhookEvent": "jira:version_released", "timestamp": 1764547200000}
    line = _replay_line(client, body, "no-issue")
    assert (line.violation_id, line.issue_key) == (None, "")


def test_a_refusal_names_the_deliverys_identifier_on_its_line(client, connected):
    response = client.post(url_of(connected), b"{not json", content_type="application/json",
                           headers={"Authorization": f"Bearer {signed()}",
                                    "X-Atlassian-Webhook-Identifier": "refused-delivery-7"})
    assert response.status_code == 400
    assert list(JiraSyncLog.objects.values_list("outcome", "identifier")) == [("refused", "refused-delivery-7")]
