"""The client's transport: failures mapped by status, and a record of every call it makes."""

import logging

import pytest

from allyproof.integrations.jira.connection.errors import JiraAuthError, JiraRateLimited, JiraTransientError
from allyproof.integrations.jira.connection.gateway import client_for
from tests.jira.test_tokens import token_calls

CLIENT_LOG = "allyproof.integrations.jira.connection.client"


def calls(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == CLIENT_LOG and r.getMessage() == "jira.call"]


def project_gets(sb) -> list:
    return [r for r in sb.requests if r.method == "GET" and r.path.endswith("/rest/api/3/project/ACME")]


def test_every_call_leaves_a_record_without_its_token(connected, sandbox, caplog):
    caplog.set_level(logging.INFO, logger=CLIENT_LOG)
    client_for(connected).get_project("ACME")
    (record,) = [r for r in calls(caplog) if r.path.endswith("/project/ACME")]
    assert (record.method, record.status) == ("GET", 200)
    assert record.path == f"/ex/jira/{connected.cloud_id}/rest/api/3/project/ACME"
    assert isinstance(record.ms, float) and record.ms >= 0
    assert "Bearer" not in repr(vars(record))


def test_a_429_record_carries_the_rate_limit_headers(connected, sandbox, caplog):
    caplog.set_level(logging.INFO, logger=CLIENT_LOG)
    sandbox.faults.add(kind="rate_limit", method="GET", path=r"/rest/api/3/project/ACME$",
                       reason="jira-quota-tenant-based", retry_after=30)
    with pytest.raises(JiraRateLimited):
        client_for(connected).get_project("ACME")
    (record,) = [r for r in calls(caplog) if r.path.endswith("/project/ACME")]
    assert record.status == 429
    assert (record.ratelimit_reason, record.ratelimit_retry_after) == ("jira-quota-tenant-based", "30")


def test_a_call_without_an_answer_is_recorded_with_no_status(connected, sandbox, caplog):
    caplog.set_level(logging.INFO, logger=CLIENT_LOG)
    sandbox.faults.add(kind="timeout", method="GET", path=r"/rest/api/3/project/ACME$")
    with pytest.raises(JiraTransientError):
        client_for(connected).get_project("ACME")
    assert [r.status for r in calls(caplog) if r.path.endswith("/project/ACME")] == [None]


def test_a_401_is_retried_once_with_a_fresh_token_by_its_status(connected, sandbox):
    sandbox.faults.add(kind="error", status=401, method="GET", path=r"/rest/api/3/project/ACME$")
    assert client_for(connected).get_project("ACME")["key"] == "ACME"
    assert (len(project_gets(sandbox)), len(token_calls(sandbox))) == (2, 1)


def test_a_403_is_not_retried(connected, sandbox):
    sandbox.faults.add(kind="error", status=403, method="GET", path=r"/rest/api/3/project/ACME$")
    with pytest.raises(JiraAuthError) as refused:
        client_for(connected).get_project("ACME")
    assert (refused.value.status, refused.value.token_refused) == (403, False)
    assert (len(project_gets(sandbox)), len(token_calls(sandbox))) == (1, 0)
