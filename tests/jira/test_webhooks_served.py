"""Issue 9's cases 4 and 5 end to end as deployed: the sandbox served in its own process, registering and
delivering signed webhooks over HTTP to AllyProof's live server, rules saved through the Integrations
page, and a real Huey consumer applying the deliveries (PostgreSQL).

4. Two organizations connected to one Jira site through one Atlassian account: saving rules in one never
   deletes the other's webhook, and each receives only its own issues' deliveries.
5. Registration refused at Atlassian's 5-webhook limit: the page keeps the warning, the periodic heal job
   (run by the consumer) registers once a slot is free, and the warning goes.
"""

import datetime as dt

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import InboundEvent, JiraConnection
from allyproof.integrations.jira.outbound import push
from allyproof.monitoring.models import Violation
from jira_sandbox import DEMO_AGENCY_ID
from tests import factories
from tests.jira.conftest import NoGate, consent, empty_queue, start_connect
from tests.jira.test_push_views import rules_post
from tests.jira.served import Consumers, real_http, sandbox_served, wait_for
from tests.services import require_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def served(settings, live_server):
    """The sandbox in its own process, AllyProof's live server, and a way to start a real consumer."""
    require_postgres()
    empty_queue()
    with sandbox_served() as url, real_http(), Consumers(url, ALLYPROOF_PUBLIC_URL=live_server.url) as consumers:
        settings.CONFIG = settings.CONFIG.replace(atlassian_auth_url=url, atlassian_api_url=url,
                                                  public_url=live_server.url, jira_push_interval_ms=0)
        yield {"url": url, "start_worker": consumers.start}


def organization_connected(org, email: str, project: str):
    """An admin of `org` connects the Demo Agency site (over HTTP to the served sandbox, one Atlassian
    account for every organization) and saves sync rules on the Integrations page."""
    web = Client()
    web.force_login(factories.member(org, email, role="admin"))
    assert web.get(consent(None, start_connect(web, None))).status_code == 302
    connection = JiraConnection.objects.get(organization=org, status__in=["choosing_site", "active"])
    if connection.status == JiraConnection.Status.CHOOSING_SITE:
        web.post(reverse("jira_choose_site"), {"cloud_id": DEMO_AGENCY_ID})
    site = factories.site(org, f"{project} site", f"https://{project.lower()}.example/")
    factories.ingest(site, factories.axe_fixture("multi_page__site.json").replace(
        b"www.acme-dental.example", f"{project.lower()}.example".encode()))
    save_rules(web, site, project)
    return web, site


def save_rules(web, site, project):
    response = web.post(reverse("jira_rules_save"), rules_post(site, project=project,
                                                                severities=["critical", "serious", "moderate"]))
    assert response.status_code == 302, response.content[:500]


def connection_of(org) -> JiraConnection:
    return JiraConnection.objects.get(organization=org, status="active")


def registrations(connection) -> list[tuple[str, str, int]]:
    """What Jira holds for the shared account, as it answers GET /rest/api/3/webhook."""
    return sorted((h["url"], h["jqlFilter"], h["id"]) for h in client_for(connection).list_webhooks())


def pushed(org, site) -> tuple[Violation, str]:
    violation = site.violations.get(rule_id="color-contrast")
    connection = connection_of(org)
    push.violation_push(violation=violation, connection=connection, client=client_for(connection, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    return violation, violation.jira_links.get().issue_key


def done_in_jira(world, key):
    response = httpx.post(f"{world['url']}/_sandbox/sites/{DEMO_AGENCY_ID}/issues/{key}",
                          json={"action": "transition", "status": "Done"}, timeout=10)
    assert response.status_code == 200, response.text
    httpx.post(f"{world['url']}/_sandbox/deliver", timeout=30)


def resolved(violation) -> bool:
    violation.refresh_from_db()
    return violation.status == Violation.Status.RESOLVED


def test_case4_two_organizations_on_one_site_keep_their_webhooks_and_hear_only_their_own(served, org, other_org):
    first_web, first_site = organization_connected(org, "admin@demo-agency.test", "ACME")
    second_web, second_site = organization_connected(other_org, "admin@other-agency.test", "WEB")
    first, second = connection_of(org), connection_of(other_org)
    assert first.cloud_id == second.cloud_id and webhooks.webhook_url(first) != webhooks.webhook_url(second)
    second_ids = list(second.webhook_ids)
    # The first organization saves its rules twice more, each time registering again (a new project, then
    # back): the second organization's registration, on the same site and account, is left alone.
    save_rules(first_web, first_site, "BETA")
    save_rules(first_web, first_site, "ACME")
    first, second = connection_of(org), connection_of(other_org)
    assert registrations(second) == sorted([(webhooks.webhook_url(first), "project IN (ACME)", first.webhook_ids[0]),
                                            (webhooks.webhook_url(second), "project IN (WEB)", second_ids[0])])
    assert second.webhook_ids == second_ids
    served["start_worker"]()
    first_violation, first_key = pushed(org, first_site)
    second_violation, second_key = pushed(other_org, second_site)
    done_in_jira(served, first_key)
    done_in_jira(served, second_key)
    wait_for(lambda: resolved(first_violation) and resolved(second_violation), timeout=60)
    # Each connection was told about its own issue only, at its own URL.
    heard = {c.pk: sorted(set(InboundEvent.objects.filter(connection=c).values_list("issue_key", flat=True)))
             for c in (first, second)}
    assert heard == {first.pk: [first_key], second.pk: [second_key]}
    sent = httpx.get(f"{served['url']}/_sandbox/deliveries", timeout=10).json()
    sent = sent.get("deliveries", sent) if isinstance(sent, dict) else sent
    assert {(d["url"], d["issue_key"]) for d in sent} == {(webhooks.webhook_url(first), first_key),
                                                          (webhooks.webhook_url(second), second_key)}
    for web in (first_web, second_web):
        assert "Jira is not yet telling us" not in web.get("/settings/integrations/").content.decode()
    assert "Jira tells us about changes in WEB." in second_web.get("/settings/integrations/").content.decode()


def test_case5_refused_at_the_five_webhook_limit_then_healed_by_the_periodic_job(served, org):
    web = Client()
    web.force_login(factories.member(org, "admin@demo-agency.test", role="admin"))
    assert web.get(consent(None, start_connect(web, None))).status_code == 302
    web.post(reverse("jira_choose_site"), {"cloud_id": DEMO_AGENCY_ID})
    connection = connection_of(org)
    jira = client_for(connection)
    # Five registrations already on the account: other connections of the same Atlassian user.
    others = [jira.register_webhooks(url=f"{webhooks.webhook_url(connection)}x{i}/",
                                     webhooks=[{"events": ["jira:issue_updated"], "jqlFilter": "project = WEB"}])
              for i in range(5)]
    site = factories.site(org)
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    response = web.post(reverse("jira_rules_save"), rules_post(site, severities=["critical", "serious", "moderate"]),
                        follow=True)
    page = response.content.decode()
    assert "We&#x27;ll retry" in page or "We'll retry" in page, page[:2000]
    connection = connection_of(org)
    assert connection.webhook_error and connection.webhook_retry_at and connection.webhook_ids == []
    assert "limited to 5" in connection.webhook_error
    page = web.get("/settings/integrations/").content.decode()
    assert "Jira is not yet telling us about changes in ACME" in page
    violation, key = pushed(org, site)
    served["start_worker"]()
    done_in_jira(served, key)  # nobody is registered for ACME: nothing reaches us
    assert not InboundEvent.objects.exists() and not resolved(violation)
    # The other user frees a slot; the backoff's minute passes (moved on in the row, not waited for),
    # and the schedule's webhook-heal run goes to the consumer.
    jira.delete_webhooks([others[0][0]["createdWebhookId"]])
    JiraConnection.objects.filter(pk=connection.pk).update(webhook_retry_at=clock.now() - dt.timedelta(seconds=1))
    tasks.webhook_heal_all()
    wait_for(lambda: connection_of(org).webhook_ids != [], timeout=60)
    connection = connection_of(org)
    assert connection.webhook_error == "" and connection.webhook_jql == "project IN (ACME)"
    mine = [r for r in registrations(connection) if r[0] == webhooks.webhook_url(connection)]
    assert mine == [(webhooks.webhook_url(connection), "project IN (ACME)", connection.webhook_ids[0])]
    page = web.get("/settings/integrations/").content.decode()
    assert "Jira is not yet telling us" not in page and "Jira tells us about changes in ACME." in page
    # ...and Jira's news reaches us again: a move out of Done and back is applied by the consumer.
    httpx.post(f"{served['url']}/_sandbox/sites/{DEMO_AGENCY_ID}/issues/{key}",
               json={"action": "transition", "status": "To Do"}, timeout=10)
    done_in_jira(served, key)
    wait_for(lambda: resolved(violation), timeout=60)
    assert InboundEvent.objects.filter(connection=connection, issue_key=key).exists()

