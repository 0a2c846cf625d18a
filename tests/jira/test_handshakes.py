"""Issue 13, case 7b: abandoned "choose a site" handshakes are wiped, tokens and all."""

import datetime as dt

from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.connection.handshakes import abandoned_handshakes_wipe
from allyproof.integrations.jira.models import JiraConnection, OAuthState
from tests.jira.conftest import consent, start_connect


def choosing_site(client, admin_user, sandbox, at):
    client.force_login(admin_user)
    with clock.frozen(at):
        client.get(consent(sandbox, start_connect(client, sandbox)))
    connection = JiraConnection.objects.get()
    assert connection.status == JiraConnection.Status.CHOOSING_SITE and connection.refresh_token
    return connection


def test_a_site_choice_left_for_ten_minutes_is_wiped_with_its_tokens(client, admin_user, sandbox):
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    connection = choosing_site(client, admin_user, sandbox, start)
    assert abandoned_handshakes_wipe(now=start + dt.timedelta(minutes=9, seconds=59)) == 0
    assert JiraConnection.objects.filter(pk=connection.pk).exists()
    with clock.frozen(start + dt.timedelta(minutes=10, seconds=1)):
        assert tasks.wipe_abandoned_handshakes.call_local() == 1
    assert not JiraConnection.objects.filter(pk=connection.pk).exists()  # the ciphertexts went with the row
    assert not OAuthState.objects.exists()  # the used, expired consent state too
    # A late pick finds nothing to choose; connecting again starts cleanly.
    response = client.post(reverse("jira_choose_site"), {"cloud_id": connection.available_sites[0]["id"]})
    assert response.status_code == 404 and not JiraConnection.objects.exists()


def test_finished_connections_are_never_wiped(connected):
    before = JiraConnection.objects.get(pk=connected.pk)
    assert abandoned_handshakes_wipe(now=clock.now() + dt.timedelta(days=30)) == 0
    after = JiraConnection.objects.get(pk=connected.pk)
    assert (after.status, after.refresh_token) == (before.status, before.refresh_token) and after.refresh_token
