"""Issue 9's cases 4 and 5: a callback URL per connection (two organizations on one Jira site and one
Atlassian account never touch each other's registration), and registrations that heal."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from allyproof.core import clock
from allyproof.core import impact as impacts
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.errors import JiraValidationError
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection, JiraSyncLog
from allyproof.integrations.jira.inbound.sync_status import webhook_status
from allyproof.integrations.jira.tasks import webhook_heal_all, webhook_refresh_all
from allyproof.monitoring.models import Violation
from tests import factories
from tests.jira.conftest import NoGate, consent, deliver_into, start_connect


def connect_org(client, sb, org):
    response = client.get(consent(sb, start_connect(client, sb)))
    assert response.status_code == 302
    connection = JiraConnection.objects.get(organization=org, status__in=["choosing_site", "active"])
    if connection.status == JiraConnection.Status.CHOOSING_SITE:
        client.post(reverse("jira_choose_site"), {"cloud_id": connection.available_sites[0]["id"]})
        connection.refresh_from_db()
    return connection


def save_rules(connection, site, key, enabled=True):
    result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
        rules.RuleInput(site_id=site.pk, enabled=enabled, project_key=key, severities=frozenset(impacts.VALUES),
                        issue_type="", auto_push=False)])
    assert result.ok, result.errors
    return result


def hooks(sb):
    return sorted((h.url, h.jql_filter) for h in sb.state.webhooks.values())


@pytest.fixture
def two_orgs(client, admin_user, org, other_org, sandbox):
    """Demo Agency and Other Agency, both connected to the same Jira site with the same Atlassian account."""
    client.force_login(admin_user)
    first = connect_org(client, sandbox, org)
    other_client = Client()
    other_client.force_login(factories.member(other_org, "admin@other-agency.test", role="admin"))
    second = connect_org(other_client, sandbox, other_org)
    assert first.cloud_id == second.cloud_id and first.webhook_token != second.webhook_token
    acme = factories.site(org, "ACME Dental", "https://www.acme-dental.example/")
    web = factories.site(other_org, "Web Co", "https://www.acme-dental.example/")
    factories.ingest(acme, factories.axe_fixture("multi_page__site.json"))
    factories.ingest(web, factories.axe_fixture("multi_page__site.json"))
    save_rules(first, acme, "ACME")
    save_rules(second, web, "WEB")
    return first, second, acme, web


def test_case4_two_organizations_on_one_site_keep_their_own_registrations(two_orgs, sandbox, client):
    first, second, acme, web = two_orgs
    for connection in (first, second):
        connection.refresh_from_db()
        webhooks.webhook_sync(connection=connection, client=client_for(connection))
    assert hooks(sandbox) == sorted([(webhooks.webhook_url(first), "project IN (ACME)"),
                                     (webhooks.webhook_url(second), "project IN (WEB)")])
    # Saving rules again in the first organization leaves the second one's registration alone.
    second_ids = JiraConnection.objects.get(pk=second.pk).webhook_ids
    save_rules(first, acme, "ACME", enabled=False)
    webhooks.webhook_sync(connection=JiraConnection.objects.get(pk=first.pk), client=client_for(first))
    assert hooks(sandbox) == [(webhooks.webhook_url(second), "project IN (WEB)")]
    assert JiraConnection.objects.get(pk=second.pk).webhook_ids == second_ids
    # ...and the second organization still hears about its issues.
    sandbox.webhook_sender = deliver_into(client)
    violation = web.violations.get(rule_id="image-alt")
    second = JiraConnection.objects.get(pk=second.pk)
    push.violation_push(violation=violation, connection=second, client=client_for(second, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    sandbox.transition_issue(None, violation.jira_links.get().issue_key, "Done")
    sandbox.deliver_pending()
    violation.refresh_from_db()
    assert violation.status == Violation.Status.RESOLVED
    assert webhook_status(connection=second).summary == "Jira tells us about changes in WEB."


def test_case4_deleting_one_connections_webhook_leaves_the_others(two_orgs, sandbox):
    first, second, _, _ = two_orgs
    for connection in (first, second):
        connection.refresh_from_db()
        webhooks.webhook_sync(connection=connection, client=client_for(connection))
    webhooks.webhook_delete(connection=first, client=client_for(first))
    assert hooks(sandbox) == [(webhooks.webhook_url(second), "project IN (WEB)")]


def test_case5_the_five_webhook_limit_is_retried_with_backoff_until_it_matches(
        connected, sandbox, site, client, acme):
    jira = client_for(connected)
    others = [jira.register_webhooks(url=f"http://testserver/integrations/jira/webhook/another-{i}/",
                                     webhooks=[{"events": ["jira:issue_updated"], "jqlFilter": "project = WEB"}])
              for i in range(5)]  # five slots taken by other connections sharing the account
    connected.refresh_from_db()
    with pytest.raises(JiraValidationError):
        webhooks.webhook_sync(connection=connected, client=jira)
    connected.refresh_from_db()
    assert connected.webhook_error and connected.webhook_retry_at
    status = webhook_status(connection=connected)
    assert "Jira is not yet telling us about changes in ACME" in status.problem and "limited to 5" in status.problem
    page = client.get("/settings/integrations/").content.decode()
    assert "Jira is not yet telling us about changes in ACME" in page
    assert webhook_heal_all.call_local() == 0  # before the backoff: no call
    jira.delete_webhooks([others[0][0]["createdWebhookId"]])
    with clock.frozen(clock.now() + dt.timedelta(minutes=2)):
        assert webhook_heal_all.call_local() == 1
    connected.refresh_from_db()
    assert connected.webhook_error == "" and connected.webhook_jql == "project IN (ACME)"
    assert webhook_status(connection=connected).problem == ""
    assert "Jira tells us about changes in ACME." in client.get("/settings/integrations/").content.decode()
    assert JiraSyncLog.objects.filter(code="register_failed").exists()
    assert JiraSyncLog.objects.filter(code="registered").exists()


def test_case5_backoff_doubles_and_is_capped():
    assert [webhooks.backoff(n) for n in (1, 2, 3)] == [dt.timedelta(minutes=m) for m in (1, 2, 4)]
    assert webhooks.backoff(30) == webhooks.BACKOFF_MAX


def test_case5_the_refresh_re_registers_a_stale_filter_instead_of_extending_it(connected, sandbox, acme, org):
    connected.refresh_from_db()
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    assert connected.webhook_jql == "project IN (ACME)"
    web = factories.site(org, "Web Co", "https://web.example/")
    jira = client_for(connected)
    for _ in range(4):  # fill the allowance so adding WEB fails
        jira.register_webhooks(url="http://testserver/integrations/jira/webhook/someone-else/",
                               webhooks=[{"events": ["jira:issue_updated"], "jqlFilter": "project = OPS"}])
    with pytest.raises(JiraValidationError):
        save_rules_and_sync(connected, web)
    connected.refresh_from_db()
    assert connected.webhook_error and connected.webhook_jql == "project IN (ACME)"
    for hook in [h for h in sandbox.state.webhooks.values() if "someone-else" in h.url][:1]:
        jira.delete_webhooks([hook.id])
    with clock.frozen(clock.now() + dt.timedelta(days=16)):
        webhook_refresh_all.call_local()
    connected.refresh_from_db()
    assert connected.webhook_jql == "project IN (ACME, WEB)" and connected.webhook_error == ""
    mine = [h for h in sandbox.state.webhooks.values() if h.url == webhooks.webhook_url(connected)]
    assert [h.jql_filter for h in mine] == ["project IN (ACME, WEB)"]


def save_rules_and_sync(connection, site):
    save_rules(connection, site, "WEB")
    webhooks.webhook_sync(connection=connection, client=client_for(connection))


def test_case5_a_reconnect_verifies_the_registration(connected, sandbox, acme, client):
    from allyproof.integrations.jira.tasks import webhook_verify_task

    connected.refresh_from_db()
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    client_for(connected).delete_webhooks(connected.webhook_ids)  # lost on Atlassian's side
    webhook_verify_task.call_local(connected.pk)
    connected.refresh_from_db()
    mine = [h for h in sandbox.state.webhooks.values() if h.url == webhooks.webhook_url(connected)]
    assert [h.id for h in mine] == connected.webhook_ids and mine[0].jql_filter == "project IN (ACME)"
