"""Connect Jira: the OAuth 2.0 (3LO) flow against the sandbox, its state matrix, roles, disconnect."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira.models import JiraConnection, OAuthState, SiteSyncRule
from jira_sandbox import DEMO_AGENCY_ID, OTHER_AGENCY_ID
from tests import factories
from tests.jira.conftest import connect, consent, query, start_connect


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_authorize_url_asks_for_the_product_scopes_and_consent(client, admin_user, sandbox):
    client.force_login(admin_user)
    params = query(start_connect(client, sandbox))
    assert params["audience"] == "api.atlassian.com"
    assert params["scope"].split() == [
        "read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access"]
    assert params["prompt"] == "consent" and params["response_type"] == "code"
    assert params["redirect_uri"] == "http://testserver/settings/integrations/jira/callback/"
    assert len(params["state"]) >= 40
    assert OAuthState.objects.get().state_hash != params["state"]  # only a hash is stored


def test_connect_with_two_granted_sites_asks_which_one(client, admin_user, sandbox, site):
    client.force_login(admin_user)
    response = client.get(consent(sandbox, start_connect(client, sandbox)), follow=True)
    assert "pick the one for this organization" in response.content.decode()
    assert "Other Agency" in response.content.decode()  # the site picker
    connection = JiraConnection.objects.get()
    assert connection.status == JiraConnection.Status.CHOOSING_SITE
    # The Confluence entry that shares the Demo Agency id is not a choice, and ids are not repeated.
    assert sorted(s["id"] for s in connection.available_sites) == sorted([DEMO_AGENCY_ID, OTHER_AGENCY_ID])
    response = client.post(reverse("jira_choose_site"), {"cloud_id": DEMO_AGENCY_ID}, follow=True)
    body = response.content.decode()
    assert "Connected" in body and "Demo Agency" in body and "https://demo-agency.atlassian.net" in body
    connection.refresh_from_db()
    assert connection.status == JiraConnection.Status.ACTIVE and connection.connected_by == admin_user
    assert connection.cloud_id == DEMO_AGENCY_ID
    rule = SiteSyncRule.objects.get(site=site)
    assert rule.enabled is False and rule.auto_push is False  # every site starts opted out


def test_choosing_a_site_that_was_not_granted_is_refused(client, admin_user, sandbox):
    client.force_login(admin_user)
    client.get(consent(sandbox, start_connect(client, sandbox)))
    response = client.post(reverse("jira_choose_site"), {"cloud_id": "not-granted"})
    assert "Pick one of the Jira sites" in messages_of(response)[-1]
    assert JiraConnection.objects.get().status == JiraConnection.Status.CHOOSING_SITE


def _fresh_state_callback(client, sandbox):
    return consent(sandbox, start_connect(client, sandbox))


@pytest.mark.parametrize("case", ["missing", "wrong", "reused", "expired", "other_session", "other_user"])
def test_state_matrix_refuses_and_stores_nothing(client, admin_user, sandbox, case, org):
    client.force_login(admin_user)
    callback = _fresh_state_callback(client, sandbox)
    params = query(callback)
    path = reverse("jira_oauth_callback")
    expected = {
        "missing": "had no state",
        "wrong": "not one we issued",
        "reused": "already used",
        "expired": "expired",
        "other_session": "another browser session",
        "other_user": "another browser session",
    }[case]
    if case == "missing":
        response = client.get(path, {"code": params["code"]})
    elif case == "wrong":
        response = client.get(path, {"code": params["code"], "state": "forged-state"})
    elif case == "reused":
        client.get(callback)
        JiraConnection.objects.all().delete()
        response = client.get(callback)
    elif case == "expired":
        with clock.frozen(clock.now() + dt.timedelta(minutes=11)):
            response = client.get(callback)
    elif case == "other_session":
        client.logout()
        client.force_login(admin_user)  # same person, new session
        response = client.get(callback)
    else:
        client.logout()
        client.force_login(factories.member(org, "admin2@demo-agency.test", "admin"))
        response = client.get(callback)
    assert response.status_code == 302
    assert expected in messages_of(response)[-1]
    assert "Nothing" in messages_of(response)[-1]
    assert not JiraConnection.objects.exists()


def test_cancel_on_the_consent_screen(client, admin_user, sandbox):
    client.force_login(admin_user)
    params = query(start_connect(client, sandbox))
    response = client.get(reverse("jira_oauth_callback"), {"error": "access_denied", "state": params["state"]})
    assert messages_of(response) == ["You cancelled on Atlassian's consent screen, so Jira was not connected."]
    assert not JiraConnection.objects.exists()


def test_code_replay_is_refused(client, admin_user, sandbox):
    client.force_login(admin_user)
    callback = _fresh_state_callback(client, sandbox)
    first = query(callback)
    client.get(callback)  # the code is exchanged here
    client.post(reverse("jira_choose_site"), {"cloud_id": DEMO_AGENCY_ID})
    connection = JiraConnection.objects.get(status="active")
    client.post(reverse("jira_disconnect"))
    fresh_state = query(start_connect(client, sandbox))["state"]
    response = client.get(reverse("jira_oauth_callback"), {"code": first["code"], "state": fresh_state})
    assert "refused that authorization code" in messages_of(response)[-1]
    assert not JiraConnection.objects.exclude(pk=connection.pk).exists()


def test_connect_while_connected_says_disconnect_first(client, admin_user, sandbox):
    client.force_login(admin_user)
    connect(client, sandbox)
    response = client.post(reverse("jira_connect"))
    assert response["Location"] == reverse("integrations")
    assert "Disconnect it first" in messages_of(response)[-1]


def test_one_site_per_organization_is_a_database_constraint(connected):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        JiraConnection.objects.create(
            organization=connected.organization, status="active", connected_at=clock.now())


def test_members_cannot_connect_choose_or_disconnect(client, admin_user, sandbox, member_user):
    client.force_login(admin_user)
    connection = connect(client, sandbox)
    client.force_login(member_user)
    assert client.post(reverse("jira_connect")).status_code == 403
    assert client.post(reverse("jira_choose_site"), {"cloud_id": OTHER_AGENCY_ID}).status_code == 403
    assert client.get(reverse("jira_disconnect")).status_code == 403
    assert client.post(reverse("jira_disconnect")).status_code == 403
    connection.refresh_from_db()
    assert connection.status == JiraConnection.Status.ACTIVE and connection.cloud_id == DEMO_AGENCY_ID
    body = client.get(reverse("integrations")).content.decode()  # members see the state, read-only
    assert "Connected" in body and "Disconnect Jira" not in body and "Connect Jira</button>" not in body


def test_an_admin_elsewhere_only_ever_acts_on_their_own_organization(client, admin_user, sandbox, other_org):
    client.force_login(admin_user)
    connection = connect(client, sandbox)
    client.force_login(other_org.memberships.get().user)
    assert client.post(reverse("jira_choose_site"), {"cloud_id": OTHER_AGENCY_ID}).status_code == 404
    response = client.post(reverse("jira_disconnect"))
    assert messages_of(response)[-1] == "Jira is not connected."
    assert "Demo Agency" not in client.get(reverse("integrations")).content.decode()
    connection.refresh_from_db()
    assert connection.status == JiraConnection.Status.ACTIVE


def test_member_sees_not_connected_without_a_button(client, member_user, sandbox):
    client.force_login(member_user)
    body = client.get(reverse("integrations")).content.decode()
    assert "Not connected." in body and "Ask an owner or admin" in body
    assert "Connect Jira</button>" not in body


def test_disconnect_soft_deletes_and_wipes_tokens(client, admin_user, connected, sandbox):
    assert client.get(reverse("jira_disconnect")).status_code == 200  # the confirmation page
    response = client.post(reverse("jira_disconnect"))
    assert response.status_code == 302
    connected.refresh_from_db()
    assert connected.status == JiraConnection.Status.DISCONNECTED
    assert connected.access_token == connected.refresh_token == ""
    assert connected.disconnected_by == admin_user and connected.disconnected_at is not None
    body = client.get(reverse("integrations")).content.decode()
    assert "Not connected." in body
    # Connecting again makes a new row; the old one stays for audit.
    connect(client, sandbox)
    assert JiraConnection.objects.count() == 2
