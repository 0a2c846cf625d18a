"""The dynamic webhook's lifecycle against the sandbox: register, re-register, refresh, expiry, delete."""

import datetime as dt

import pytest
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.errors import JiraValidationError
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import SiteSyncRule
from allyproof.integrations.jira.tasks import webhook_refresh_all
from tests import factories

def url_of(connection):
    return f"http://testserver/integrations/jira/webhook/{connection.webhook_token}/"


def registered(sb):
    """Every dynamic webhook the sandbox holds for the site (read from its state, no token needed)."""
    return [{"id": h.id, "url": h.url, "jqlFilter": h.jql_filter, "events": list(h.events),
             "expirationDate": h.expires * 1000} for h in sb.state.webhooks.values()]


@pytest.fixture
def jira(connected):
    return client_for(connected)


def enable(site, key):
    SiteSyncRule.objects.update_or_create(site=site, defaults={"enabled": True, "project_key": key})


def calls(sb, method, path="/rest/api/3/webhook"):
    return [r for r in sb.requests if r.method == method and r.path.endswith(path)]


def test_nothing_is_registered_while_no_site_is_enabled(connected, jira, sandbox):
    webhooks.webhook_sync(connection=connected, client=jira)
    assert connected.webhook_ids == [] and not calls(sandbox, "POST")


def test_registered_for_the_enabled_projects(connected, jira, sandbox, site):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    [hook] = registered(sandbox)
    assert hook["url"] == url_of(connected) and hook["jqlFilter"] == "project IN (ACME)"
    assert sorted(hook["events"]) == ["jira:issue_deleted", "jira:issue_updated"]
    assert connected.webhook_ids == [hook["id"]]
    assert connected.webhook_expires_at == pytest.approx(clock.now() + dt.timedelta(days=30), abs=dt.timedelta(seconds=5))
    webhooks.webhook_sync(connection=connected, client=jira)  # unchanged set: no call at all
    assert len(calls(sandbox, "POST")) == 1


def test_changing_projects_registers_the_new_one_before_deleting_the_old(connected, jira, sandbox, site, org):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    old_id = connected.webhook_ids[0]
    enable(factories.site(org, "Web Co", "https://web.example/"), "WEB")
    webhooks.webhook_sync(connection=connected, client=jira)
    [hook] = registered(sandbox)
    assert hook["jqlFilter"] == "project IN (ACME, WEB)" and hook["id"] != old_id
    post, delete = calls(sandbox, "POST")[-1], calls(sandbox, "DELETE")[-1]
    assert sandbox.requests.index(post) < sandbox.requests.index(delete)
    assert delete.body == {"webhookIds": [old_id]}


def test_disabling_every_site_removes_the_registration(connected, jira, sandbox, site):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    SiteSyncRule.objects.filter(site=site).update(enabled=False)
    webhooks.webhook_sync(connection=connected, client=jira)
    assert registered(sandbox) == [] and connected.webhook_ids == [] and connected.webhook_jql == ""


def test_periodic_task_refreshes_after_25_days(connected, jira, sandbox, site):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    hook_id = connected.webhook_ids[0]
    sandbox.clock.freeze()
    sandbox.clock.advance(days=25)
    later = clock.now() + dt.timedelta(days=25)
    with clock.frozen(later):
        assert webhook_refresh_all.call_local() == 1
    connected.refresh_from_db()
    assert connected.webhook_ids == [hook_id]  # the same registration, extended
    assert calls(sandbox, "PUT", "/webhook/refresh")
    assert connected.webhook_expires_at > later + dt.timedelta(days=29)
    [hook] = registered(sandbox)
    assert hook["expirationDate"] / 1000 > sandbox.clock.now() + 29 * 86400


def test_not_due_yet_means_no_call(connected, jira, sandbox, site):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    with clock.frozen(clock.now() + dt.timedelta(days=10)):
        assert webhook_refresh_all.call_local() == 0
    assert not calls(sandbox, "PUT", "/webhook/refresh")


def test_an_expired_registration_is_registered_again(connected, jira, sandbox, site):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    old_id = connected.webhook_ids[0]
    sandbox.clock.freeze()
    sandbox.clock.advance(days=31)
    with clock.frozen(clock.now() + dt.timedelta(days=31)):
        webhook_refresh_all.call_local()
    connected.refresh_from_db()
    [hook] = registered(sandbox)
    assert connected.webhook_ids == [hook["id"]] and hook["id"] != old_id


def test_a_registration_deleted_in_jira_is_registered_again(connected, jira, sandbox, site):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    jira.delete_webhooks(connected.webhook_ids)
    with clock.frozen(clock.now() + dt.timedelta(days=20)):
        webhook_refresh_all.call_local()
    connected.refresh_from_db()
    [hook] = registered(sandbox)
    assert connected.webhook_ids == [hook["id"]]


def test_strays_from_a_crash_are_cleared_and_never_more_than_five(connected, jira, sandbox, site):
    for _ in range(5):  # five registrations of ours that a crashed process never recorded
        jira.register_webhooks(url=url_of(connected), webhooks=[{"events": ["jira:issue_updated"], "jqlFilter": "project = ACME"}])
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    [hook] = registered(sandbox)
    assert connected.webhook_ids == [hook["id"]]


def test_a_lost_register_response_adopts_what_jira_created(connected, jira, sandbox, site):
    enable(site, "ACME")
    sandbox.faults.add(kind="drop_response_after_commit", method="POST", path=r"/rest/api/3/webhook$")
    webhooks.webhook_sync(connection=connected, client=jira)
    [hook] = registered(sandbox)
    assert connected.webhook_ids == [hook["id"]]


def test_per_item_errors_in_a_200_are_failures(connected, jira, sandbox, site):
    SiteSyncRule.objects.update_or_create(site=site, defaults={"enabled": True, "project_key": "ACME"})
    # Jira accepts at most five per app per user per site: fill the quota under another URL.
    for _ in range(5):
        jira.register_webhooks(url="https://elsewhere.example/hook",
                               webhooks=[{"events": ["jira:issue_updated"], "jqlFilter": "project = ACME"}])
    with pytest.raises(JiraValidationError, match="refused the webhook"):
        webhooks.webhook_sync(connection=connected, client=jira)
    connected.refresh_from_db()
    assert connected.webhook_ids == [] and "refused the webhook" in connected.webhook_error
    assert len(registered(sandbox)) == 5  # nothing leaked


def test_disconnect_deletes_the_registration(connected, jira, sandbox, site, client):
    enable(site, "ACME")
    webhooks.webhook_sync(connection=connected, client=jira)
    hook_id = connected.webhook_ids[0]
    client.post(reverse("jira_disconnect"))
    assert calls(sandbox, "DELETE")[-1].body == {"webhookIds": [hook_id]}
    assert registered(sandbox) == []
