"""Issue 9's cases end to end as deployed: the sandbox served in its own process delivering signed
webhooks over HTTP to AllyProof's live server, reconciliation over real HTTP, and a real Huey consumer
running the durable scan follow-up (PostgreSQL)."""

import datetime as dt

import httpx
import jwt
import pytest
from django.conf import settings

from allyproof.core import impact as impacts
from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.inbound import reconcile
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.outbound import scan_followup
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import (
    DetectedAgainComment,
    InboundEvent,
    JiraLink,
    JiraSyncLog,
    ScanFollowUp,
)
from allyproof.monitoring.models import Violation
from jira_sandbox import DEMO_AGENCY_ID
from tests import factories
from tests.jira.conftest import NoGate, connect, empty_queue
from tests.jira.served import Consumers, real_http, sandbox_served, wait_for
from tests.services import require_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def served(client, admin_user, org, settings, live_server):
    require_postgres()
    empty_queue()
    with sandbox_served() as url, real_http(), Consumers(url, JIRA_JOB_STALE_SECONDS="2") as consumers:
        settings.CONFIG = settings.CONFIG.replace(
            atlassian_auth_url=url, atlassian_api_url=url,
            public_url=live_server.url, jira_push_interval_ms=0, jira_job_stale_seconds=2)
        client.force_login(admin_user)
        connection = connect(client, None)
        site = factories.site(org)
        factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
        result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
            rules.RuleInput(site_id=site.pk, enabled=True, project_key="ACME", severities=frozenset(impacts.VALUES),
                            issue_type="", auto_push=False)])
        assert result.ok, result.errors
        webhooks.webhook_sync(connection=connection, client=client_for(connection))
        violation = site.violations.get(rule_id="color-contrast")
        push.violation_push(violation=violation, connection=connection, client=client_for(connection, gate=NoGate()),
                            violation_url=push.absolute_violation_url(violation))
        yield {"url": url, "connection": connection, "site": site, "violation": violation,
               "start_worker": consumers.start}


def act(world, key, **body):
    response = httpx.post(f"{world['url']}/_sandbox/sites/{DEMO_AGENCY_ID}/issues/{key}", json=body, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def deliver(world):
    return httpx.post(f"{world['url']}/_sandbox/deliver", timeout=30).json()


def state(violation):
    violation.refresh_from_db()
    return violation.status


def test_regression_stays_open_and_the_worker_comments_once_even_after_a_crash(served, django_capture_on_commit_callbacks):
    world, violation = served, served["violation"]
    act(world, "ACME-1", action="transition", status="Done")
    deliver(world)
    # No worker yet (it must start after the sweeper below): the receiver's queued run is done here.
    wait_for(lambda: inbound_apply.pending_apply() >= 0 and state(violation) == Violation.Status.RESOLVED,
             timeout=20)
    scan = factories.ingest(world["site"], factories.axe_fixture("multi_page__site.json"))  # found again
    row = ScanFollowUp.objects.get(scan_id=scan.pk)  # written after commit, queued for a worker
    assert state(violation) == Violation.Status.OPEN
    # A runner that died mid-way: the sweeper hands the row to the (real) worker again.
    # Its heartbeat is older than JIRA_JOB_STALE_SECONDS, and the sweeper looks before the worker starts: a
    # worker already running could finish the row's first queued task and leave nothing for the sweeper.
    went_silent = row.created_at - dt.timedelta(seconds=settings.CONFIG.jira_job_stale_seconds + 1)
    ScanFollowUp.objects.filter(pk=row.pk).update(status="running", heartbeat_at=went_silent)
    assert row.pk in scan_followup.scan_followups_resume(enqueue=tasks.scan_followup_task)  # (the first scan's row is resumed too)
    world["start_worker"]()
    wait_for(lambda: not ScanFollowUp.objects.exclude(status="done").exists(), timeout=60)
    assert scan_followup.scan_followups_resume(enqueue=tasks.scan_followup_task) == []
    deliver(world)  # the echo of our comment
    reconcile.reconcile(connection=world["connection"], client=client_for(world["connection"], gate=NoGate()))
    assert state(violation) == Violation.Status.OPEN
    issue = client_for(world["connection"]).get_issue("ACME-1", fields="comment,status")
    assert len(issue["fields"]["comment"]["comments"]) == 1 and DetectedAgainComment.objects.count() == 1
    assert JiraSyncLog.objects.filter(violation=violation, code="done_before_reopen").exists()


def test_stale_done_same_millisecond_and_silent_deletion_over_http(served):
    world, violation = served, served["violation"]
    world["start_worker"]()  # a real consumer applies what the receiver records
    httpx.post(f"{world['url']}/_sandbox/delivery-faults", json={"kind": "redeliver", "seconds": 0}, timeout=10)
    act(world, "ACME-1", actions=[{"action": "edit", "fields": {"summary": "Renamed"}},
                                  {"action": "transition", "status": "Done"}])
    wait_for(lambda: deliver(world)["pending"] == 0 and InboundEvent.objects.count() >= 2, timeout=30)
    wait_for(lambda: not InboundEvent.objects.filter(outcome="received").exists(), timeout=30)
    assert state(violation) == Violation.Status.RESOLVED
    stamps = set(InboundEvent.objects.exclude(outcome="duplicate").values_list("timestamp", flat=True))
    assert len(stamps) == 1 and InboundEvent.objects.count() == 2  # both changes, the redelivery deduped
    # Deleted in Jira, the deletion's delivery lost, and a search that leaves the key out.
    httpx.post(f"{world['url']}/_sandbox/sites/{DEMO_AGENCY_ID}/options", json={"search_omits_missing_keys": True},
               timeout=10)
    httpx.post(f"{world['url']}/_sandbox/delivery-faults", json={"kind": "drop"}, timeout=10)
    act(world, "ACME-1", action="transition", status="To Do")  # Jira's resolution no longer holds
    deliver(world)
    httpx.post(f"{world['url']}/_sandbox/delivery-faults", json={"kind": "drop"}, timeout=10)
    act(world, "ACME-1", action="delete")
    deliver(world)
    caught = reconcile.reconcile(connection=world["connection"], client=client_for(world["connection"], gate=NoGate()))
    assert caught.deleted == 1
    assert JiraLink.objects.get(violation=violation).status == JiraLink.Status.DELETED


def test_a_refused_delivery_over_http_leaves_a_trace(served, live_server):
    """Case 8: a token signed with the wrong client secret is answered 401 and logged with its reason."""
    world = served
    forged = jwt.encode({"iss": "not-atlassian", "iat": int(dt.datetime.now(dt.UTC).timestamp())}, "a-wrong-secret",
                        algorithm="HS256")
    response = httpx.post(webhooks.webhook_url(world["connection"]), content=b'{"webhookEvent": "jira:issue_updated"}',
                          headers={"Authorization": f"Bearer {forged}", "Content-Type": "application/json",
                                   "X-Atlassian-Webhook-Identifier": "forged-1"}, timeout=10)
    assert response.status_code == 401
    line = JiraSyncLog.objects.get(identifier="forged-1")
    assert (line.direction, line.outcome, line.connection_id) == ("inbound", "refused", world["connection"].pk)
    assert response.json() == {"error": line.code, "detail": line.message}
    assert forged not in line.message and "InvalidSignatureError" in line.message  # the reason, never the token
    assert not InboundEvent.objects.filter(identifier="forged-1").exists()  # refused: nothing to apply
