"""/health/: the database, the queue and Redis can fail it; the product's own facts are reported as
recorded ("unknown" where nothing is recorded), and a warning or a pause only marks it degraded."""

import datetime as dt
import time

import pytest

from huey.contrib.djhuey import HUEY

from allyproof.core import clock
from allyproof.integrations.jira.models import JiraConnection, PacingGate

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def health(client, **headers):
    response = client.get("/health/?format=json", **headers)
    return response.status_code, response.json()["status"], {row["name"]: row for row in response.json()["checks"]}


@pytest.fixture
def frozen():
    with clock.frozen(NOW):
        yield


@pytest.mark.django_db
def test_a_fresh_install_is_ok_and_says_what_it_does_not_know(client):
    status, overall, checks = health(client)
    assert (status, overall) == (200, "ok")
    assert {name: row["state"] for name, row in checks.items()} == {
        "database": "ok", "queue": "ok", "redis": "not used", "last_webhook": "unknown",
        "webhook_refresh": "unknown", "reconciliation": "unknown", "jira_budget": "ok",
    }
    assert checks["queue"]["detail"] == f"SQLite queue: {HUEY.pending_count()} waiting, {HUEY.scheduled_count()} scheduled"
    assert "not recorded yet" in checks["reconciliation"]["detail"]
    assert checks["jira_budget"]["detail"] == "no pause in force; points this hour: 0 of 65000 used (app-wide pool)"


def connection(org, **fields):
    return JiraConnection.objects.create(organization=org, status="active", cloud_id="c-1", site_name="Acme",
                                         site_url="https://acme.atlassian.net", connected_at=NOW, **fields)


def test_recorded_webhook_facts_are_reported(client, org, frozen):
    connection(org, webhook_ids=[7], webhook_expires_at=NOW + dt.timedelta(days=20),
               last_webhook_at=NOW - dt.timedelta(minutes=3))
    status, overall, checks = health(client)
    assert (status, overall) == (200, "ok")
    assert checks["last_webhook"] == {"name": "last_webhook", "state": "ok",
                                      "detail": "last delivery 2026-12-01 11:57 UTC (to the minute)"}
    assert checks["webhook_refresh"]["detail"] == "1 registration(s), the soonest expires 2026-12-21 12:00 UTC"


def test_an_expired_registration_and_a_silent_one_degrade_without_failing(client, org, other_org, frozen):
    connection(org, webhook_ids=[7], webhook_expires_at=NOW - dt.timedelta(hours=1), last_webhook_at=NOW)
    connection(other_org, webhook_ids=[8], webhook_expires_at=NOW + dt.timedelta(days=29, hours=22))
    status, overall, checks = health(client)
    assert (status, overall) == (200, "degraded")
    assert checks["webhook_refresh"]["state"] == "warning"
    assert checks["webhook_refresh"]["detail"].startswith("1 registration(s) past expiry, 0 with a refresh error")
    assert checks["last_webhook"]["state"] == "warning"
    assert checks["last_webhook"]["detail"] == "1 of 2 registrations received nothing in their first hour"


@pytest.mark.django_db
def test_a_jira_pause_says_until_when(client):
    until = time.time() + 600
    PacingGate.objects.create(key="global", paused_until=until, pause_reason="jira-quota-global-based")
    PacingGate.objects.create(key="c-2", paused_until=time.time() - 5, pause_reason="jira-burst-based")  # over
    status, overall, checks = health(client)
    assert (status, overall) == (200, "degraded")
    hhmm = dt.datetime.fromtimestamp(until, dt.UTC).strftime("%H:%M")
    assert checks["jira_budget"]["state"] == "paused"
    assert checks["jira_budget"]["detail"].startswith(f"Paused by Jira until {hhmm} UTC (1 pause(s): every site)")


@pytest.mark.django_db
def test_redis_that_does_not_answer_makes_it_unavailable(client, settings):
    settings.CONFIG = settings.CONFIG.replace(redis_url="redis://127.0.0.1:1/0")  # nothing listens
    status, overall, checks = health(client)
    assert (status, overall) == (503, "unavailable")
    assert checks["redis"] == {"name": "redis", "state": "unavailable",
                               "detail": "Redis does not answer (ConnectionError)"}


@pytest.mark.django_db
def test_people_get_a_page_and_machines_json_by_accept(client):
    page = client.get("/health/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert b"<caption>Each check, its state and what it found</caption>" in page.content
    assert b"Service health: ok" in page.content
    machine = client.get("/health/", headers={"Accept": "application/json"})
    assert machine.json()["status"] == "ok"
    assert "no-cache" in machine["Cache-Control"]


@pytest.mark.services
@pytest.mark.django_db
def test_a_pause_in_the_redis_gate_is_seen_too(client, settings):
    from allyproof.integrations.jira.connection.pacing import RedisGate
    from tests.services import redis_url

    url = redis_url()
    settings.CONFIG = settings.CONFIG.replace(redis_url=url)
    gate = RedisGate(url=url, interval=0.15, prefix="allyproof:pacing:")
    gate.pause("cloud-under-test", 900, "jira-burst-based")
    try:
        status, overall, checks = health(client)
        assert (status, overall) == (200, "degraded")
        assert checks["redis"]["state"] == "ok"
        assert checks["jira_budget"]["state"] == "paused"
        assert "(1 pause(s): 1 site)" in checks["jira_budget"]["detail"]
    finally:
        gate.redis.delete("allyproof:pacing:pause:cloud-under-test")


@pytest.mark.django_db
def test_a_queued_task_is_counted(client):
    from allyproof.integrations.jira.tasks import webhook_sync_task

    before = HUEY.pending_count()
    webhook_sync_task(0)  # no consumer runs in tests: it waits in the queue (for connection 0: a no-op if run)
    assert health(client)[2]["queue"]["detail"].startswith(f"SQLite queue: {before + 1} waiting")
