"""Captured Jira Cloud webhook bodies (tests/fixtures/jira_webhooks/), one line per fixture, through the
real receiver; and the sandbox's deliveries have the same shape as them."""

import datetime as dt
import json
import time
from pathlib import Path

import jwt
import pytest

from allyproof.core import clock
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import InboundEvent, JiraLink, JiraSyncLog
from tests.jira.conftest import NoGate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jira_webhooks"
SECRET = "sandbox-client-secret"


@pytest.fixture
def link(acme, connected, sandbox):
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    violation = acme.violations.get(rule_id="image-alt")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    return JiraLink.objects.get(violation=violation)


def jira_time(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


@pytest.fixture
def check_webhook(client, link, connected):
    """Posts fixture `name` as Atlassian would, about the linked issue, and returns (outcome, code).
    changed: when the issue entered its status category, relative to the violation's opening."""
    def check(name, changed="after_open", category=None):
        body = json.loads((FIXTURES / f"{name}.json").read_text())
        site = connected.site_url.rstrip("/")
        issue = body["issue"]
        issue.update(id=link.issue_id, key=link.issue_key, self=f"{site}/rest/api/2/issue/{link.issue_id}")
        opened = link.violation.reopened_at or link.violation.first_detected_at
        at = clock.now() if changed == "after_open" else opened - dt.timedelta(hours=1)
        body["timestamp"] = int(at.timestamp() * 1000)
        if "statuscategorychangedate" in issue["fields"]:
            issue["fields"]["statuscategorychangedate"] = jira_time(at)
        if category:
            issue["fields"]["status"]["statusCategory"]["key"] = category
        now = int(time.time())
        token = jwt.encode({"iss": "allyproof-sandbox", "iat": now, "exp": now + 180}, SECRET, algorithm="HS256")
        response = client.post(f"/integrations/jira/webhook/{connected.webhook_token}/", json.dumps(body),
                               content_type="application/json",
                               headers={"Authorization": f"Bearer {token}", "X-Atlassian-Webhook-Identifier": name})
        assert response.status_code == 202 and response.json() == {"outcome": "received"}, response.content
        inbound_apply.pending_apply()  # the worker's run
        line = JiraSyncLog.objects.filter(identifier=name).exclude(outcome="failed").get()
        return InboundEvent.objects.get(identifier=name).outcome, line.code
    return check


def test_status_into_done(check_webhook):
    assert check_webhook("jira_issue_updated__status_into_done") == ("applied", "entered_done")


def test_status_into_done_before_the_violation_was_opened(check_webhook):
    assert check_webhook("jira_issue_updated__status_into_done", changed="before_open") == (
        "ignored", "done_before_reopen")


def test_status_named_done_outside_the_done_category(check_webhook):
    assert check_webhook("jira_issue_updated__status_into_done", category="indeterminate") == ("ignored", "not_done")


def test_status_into_done_without_categorychangedate_uses_the_changelog(check_webhook):
    assert check_webhook("jira_issue_updated__status_into_done_without_categorychangedate") == (
        "applied", "entered_done")


def test_status_into_another_done_category_status(check_webhook):
    assert check_webhook("jira_issue_updated__status_done_to_another_done") == ("applied", "entered_done")


def test_status_out_of_done(check_webhook):
    assert check_webhook("jira_issue_updated__status_out_of_done") == ("ignored", "not_done")


def test_status_to_in_progress(check_webhook):
    assert check_webhook("jira_issue_updated__status_to_in_progress") == ("ignored", "not_done")


def test_a_persons_comment_on_an_issue_done_since_the_opening(check_webhook):
    assert check_webhook("jira_issue_updated__comment") == ("applied", "entered_done")


def test_a_persons_comment_on_an_issue_done_before_the_opening(check_webhook):
    assert check_webhook("jira_issue_updated__comment", changed="before_open") == ("ignored", "done_before_reopen")


def test_field_edit(check_webhook):
    assert check_webhook("jira_issue_updated__field_edit") == ("ignored", "not_done")


def test_issue_deleted(check_webhook):
    assert check_webhook("jira_issue_deleted__deleted") == ("applied", "issue_deleted")


def key_paths(value, prefix=""):
    if isinstance(value, dict):
        paths = set()
        for key, inner in value.items():
            paths |= {f"{prefix}.{key}".lstrip(".")} | key_paths(inner, f"{prefix}.{key}")
        return paths
    if isinstance(value, list):
        return set().union(*(key_paths(v, f"{prefix}[]") for v in value)) if value else set()
    return set()


# What AllyProof reads, and the documented envelope: these must be where the fixtures have them.
READ = ("timestamp", "webhookEvent", "issue_event_type_name", "matchedWebhookIds", "issue.id", "issue.key",
        "issue.self", "issue.fields.status.statusCategory.key", "issue.fields.statuscategorychangedate",
        "changelog.id", "changelog.items[].field", "changelog.items[].fromString", "changelog.items[].toString",
        "comment.id", "user.accountId")


@pytest.mark.parametrize(("fixture", "act"), [
    ("jira_issue_updated__status_into_done", lambda sb, key: sb.transition_issue(None, key, "Done")),
    ("jira_issue_updated__field_edit", lambda sb, key: sb.edit_issue(None, key, summary="Renamed")),
    ("jira_issue_updated__comment", lambda sb, key: sb.add_comment(None, key, "Still failing")),
    ("jira_issue_deleted__deleted", lambda sb, key: sb.delete_issue(None, key)),
])
def test_the_sandbox_delivers_the_same_shape(link, sandbox, fixture, act):
    bodies = []
    sandbox.webhook_sender = lambda url, headers, body: bodies.append(json.loads(body)) or 200
    act(sandbox, link.issue_key)
    sandbox.deliver_pending()
    captured = key_paths(json.loads((FIXTURES / f"{fixture}.json").read_text()))
    delivered = key_paths(bodies[0])
    assert {p for p in READ if p in captured} == {p for p in READ if p in delivered}
    top = {p for p in captured if "." not in p and "[" not in p}
    assert top == {p for p in delivered if "." not in p and "[" not in p}
    assert {p for p in captured if p.startswith(("changelog", "issue.fields.status", "comment.id"))} <= delivered
