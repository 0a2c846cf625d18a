"""Structured logs: event names with ids as fields, and never a token, secret or OAuth code."""

import io
import json
import logging

import pytest
import structlog

from allyproof.core import logs

SECRET = "s3cr3t-value-4d9f"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def captured():
    """The production formatter on a stream, attached to the root logger for one test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (f"Authorization: Bearer {SECRET}", "Authorization: Bearer [redacted]"),
        (f"GET /settings/integrations/jira/callback/?code={SECRET}&state=abc",
         "GET /settings/integrations/jira/callback/?code=[redacted]&state=[redacted]"),
        (f"body {{'refresh_token': '{SECRET}', 'scope': 'read'}}", "body {'refresh_token': '[redacted]', 'scope': 'read'}"),
        (f'{{"client_secret": "{SECRET}"}}', '{"client_secret": "[redacted]"}'),
        (f"delivery signed {JWT}", "delivery signed [redacted]"),
        ("jira.push.created violation=5 key=ACME-1", "jira.push.created violation=5 key=ACME-1"),
        ("POST /integrations/jira/webhook/XECo26nl7bREidPZqwG5PwbOPPEJlalO/ 202",
         "POST /integrations/jira/webhook/[redacted]/ 202"),
        ("GET /integrations/jira/webhook/ 410", "GET /integrations/jira/webhook/ 410"),
    ],
)
def test_secrets_in_text_are_redacted(message, expected):
    assert logs.scrub_text(message) == expected


def test_secret_keys_are_redacted_whatever_their_value(captured):
    logging.getLogger("allyproof.test").info(
        "oauth.exchanged", extra={"access_token": SECRET, "password": SECRET, "status_code": 200,
                                  "headers": {"Authorization": SECRET, "Accept": "application/json"}})
    [line] = captured()
    assert SECRET not in json.dumps(line)
    assert line["access_token"] == line["password"] == "[redacted]"
    assert line["headers"] == {"Authorization": "[redacted]", "Accept": "application/json"}
    assert line["status_code"] == 200  # not the OAuth code


def test_event_messages_become_fields(captured):
    logging.getLogger("allyproof.integrations.jira.inbound.intake").info(
        "jira.webhook.received event=%s issue=%s outcome=%s", "jira:issue_updated", "ACME-1", "applied")
    structlog.get_logger("allyproof.test").warning("jira.refresh.failed", connection=7, token=SECRET)
    first, second = captured()
    assert (first["event"], first["event_name"], first["issue"], first["outcome"]) == (
        "jira.webhook.received", "jira:issue_updated", "ACME-1", "applied")
    assert first["level"] == "info" and first["logger"] == "allyproof.integrations.jira.inbound.intake"
    assert (second["event"], second["connection"], second["token"]) == ("jira.refresh.failed", 7, "[redacted]")


def test_an_unquoted_sentence_is_kept_whole_up_to_the_next_field(captured):
    logging.getLogger("allyproof.integrations.jira.periodic").warning(
        "jira.reconcile.failed connection=%s error=%s", 2, "the connection to Atlassian failed mid-request (ReadTimeout)")
    logging.getLogger("allyproof.test").info("jira.job.parked job=%s seconds=%.1f", 4, 2.5)
    first, second = captured()
    assert (first["connection"], first["error"]) == ("2", "the connection to Atlassian failed mid-request (ReadTimeout)")
    assert (second["job"], second["seconds"]) == ("4", "2.5")


def test_a_webhooks_reason_is_kept_where_an_oauth_code_would_be_redacted(captured):
    # The receiver names why it answered as it did ("entered_done", "bad_signature"); under the key
    # "code" that reason was blanked like an OAuth code, so the receiver logs it as "reason".
    logging.getLogger("allyproof.integrations.jira.inbound.apply").info(
        "jira.webhook.applied event_name=%s issue=%s outcome=%s reason=%s", "jira:issue_updated", "ACME-1",
        "applied", "entered_done")
    logging.getLogger("allyproof.test").info("oauth.callback code=%s", SECRET)
    first, second = captured()
    assert (first["outcome"], first["reason"]) == ("applied", "entered_done")
    assert second["code"] == "[redacted]" and SECRET not in json.dumps(second)


def test_an_exception_text_is_redacted_too(captured):
    try:
        raise ValueError(f"token exchange failed for code={SECRET}")
    except ValueError:
        logging.getLogger("allyproof.test").exception("oauth.callback_failed")
    [line] = captured()
    assert SECRET not in json.dumps(line) and "code=[redacted]" in line["exception"]


@pytest.mark.django_db
def test_django_request_logging_keeps_the_query_string_out(client, captured):
    """A 404 with an OAuth code in its query: Django logs it (django.request) with the request object."""
    assert client.get(f"/settings/integrations/jira/nowhere/?code={SECRET}&state=x").status_code == 404
    assert client.get(f"/settings/integrations/jira/callback/?code={SECRET}&state=x").status_code == 302
    lines = captured()
    assert SECRET not in json.dumps(lines)
    [not_found] = [line for line in lines if line.get("logger") == "django.request"]
    assert not_found["request"] == {"method": "GET", "path": "/settings/integrations/jira/nowhere/"}
    assert not_found["status_code"] == 404
