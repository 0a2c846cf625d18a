"""The Jira Cloud sandbox, mounted in-process, and helpers to connect an organization to it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.urls import reverse

from allyproof.integrations.jira.connection import client as jira_client
from allyproof.integrations.jira.models import JiraConnection
from jira_sandbox import DEMO_AGENCY_ID, Sandbox, SandboxConfig


@pytest.fixture
def sandbox():
    """A fresh sandbox per test; every request AllyProof sent must conform to Atlassian's spec."""
    sb = Sandbox(SandboxConfig.default())
    sb.auto_approve = True
    sb.sleep = sb.clock.advance  # latency faults move the sandbox clock instead of sleeping
    with jira_client.transport(httpx.WSGITransport(app=sb)):
        yield sb
    failures = sb.conformance.failures
    assert not failures, f"requests or responses that do not conform to Atlassian's OpenAPI: {failures[:3]}"


def sandbox_http(sb) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sb), base_url="http://sandbox.test")


def consent(sb, authorize_url: str) -> str:
    """Follows Atlassian's authorize URL (auto-approved) and returns the callback path with its query.
    `sb` None: the sandbox runs in another process, reached over real HTTP."""
    response = httpx.get(authorize_url) if sb is None else sandbox_http(sb).get(authorize_url)
    assert response.status_code in (302, 303), response.text[:300]
    location = urlsplit(response.headers["location"])
    return f"{location.path}?{location.query}"


def start_connect(client, sb) -> str:
    response = client.post(reverse("jira_connect"))
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def connect(client, sb, *, cloud_id: str = DEMO_AGENCY_ID) -> JiraConnection:
    """The whole connect flow for the signed-in admin of `client`; returns the active connection."""
    callback = consent(sb, start_connect(client, sb))
    response = client.get(callback)
    assert response.status_code == 302
    connection = JiraConnection.objects.exclude(status="disconnected").get()
    if connection.status == JiraConnection.Status.CHOOSING_SITE:
        client.post(reverse("jira_choose_site"), {"cloud_id": cloud_id})
        connection.refresh_from_db()
    assert connection.status == JiraConnection.Status.ACTIVE, connection.status
    return connection


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def connected(client, admin_user, sandbox, site):
    client.force_login(admin_user)
    return connect(client, sandbox)


@pytest.fixture
def rules_for(connected):
    """Saves sync rules through the real service (so issue types are checked against Jira)."""
    from allyproof.integrations.jira.outbound import rules
    from allyproof.integrations.jira.connection.gateway import client_for

    def _save(site, key="ACME", severities=("critical", "serious", "moderate", "minor"), enabled=True,
              auto_push=False, issue_type=""):
        result = rules.rules_save(
            connection=connected, by=None, client=client_for(connected),
            inputs=[rules.RuleInput(site_id=site.pk, enabled=enabled, project_key=key, severities=frozenset(severities),
                                    issue_type=issue_type, auto_push=auto_push)])
        assert result.ok, result.errors
        return site.jira_rule

    return _save


@pytest.fixture
def acme(site, rules_for):
    """ACME Dental with its real scan, routed to ACME with every severity."""
    from tests import factories

    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    rules_for(site)
    return site


class NoGate:
    """Pacing off (tests and the overhead benchmark); records what it was asked."""

    def __init__(self):
        self.waits, self.pauses = [], []

    def wait(self, site, max_wait=None):
        self.waits.append(site)  # records, never sleeps

    def pause(self, site, seconds, reason):
        self.pauses.append((site, seconds, reason))


@pytest.fixture
def budget(settings):
    """Sets JIRA_PUSH_WAIT_MS, the violation page's patience before "Pushing…" (typed settings)."""
    def _set(ms):
        settings.CONFIG = settings.CONFIG.replace(jira_push_wait_ms=ms)
    return _set


@pytest.fixture
def huey_immediate():
    """Huey's own immediate mode: an enqueued task runs at once, as a prompt worker would (needs a
    transactional test, so that on_commit fires)."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield HUEY
    HUEY.immediate = False


def deliver_into(client, *, apply=True):
    """The sandbox's sender posting to the receiver through Django's test client; with `apply`, the
    worker's run (inbound_apply) follows each delivery in this process, as a consumer would."""
    from allyproof.integrations.jira.inbound import apply as inbound_apply

    def send(url, headers, body):
        status = client.post(url.removeprefix("http://testserver"), body, content_type="application/json",
                             headers=headers).status_code
        if apply:
            inbound_apply.pending_apply()
        return status
    return send


@pytest.fixture
def same_clock(sandbox):
    """AllyProof's clock reads the sandbox's, so the tests can move time for both at once."""
    import datetime as dt

    from allyproof.core import clock

    sandbox.clock.freeze()
    with clock.follow(lambda: dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)):
        yield sandbox.clock


def empty_queue() -> None:
    """Before a test starts real consumers: the test session's one Huey store holds whatever earlier
    transactional tests enqueued and no consumer ran (their jobs are gone with their rows), and a
    single-threaded consumer would work through all of that before this test's own tasks."""
    from huey.contrib.djhuey import HUEY

    HUEY.flush()


@pytest.fixture
def one_clock(sandbox):
    """AllyProof and the sandbox share one frozen clock; sleeping on the sandbox's clock advances both."""
    import datetime as dt

    from allyproof.core import clock

    sandbox.clock.freeze()
    with clock.follow(lambda: dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)):
        yield
