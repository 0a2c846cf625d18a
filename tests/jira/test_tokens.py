"""Access-token refresh: transparent, serialized across processes, and safe when the grant dies."""

import datetime as dt
import os
import subprocess
import sys
import threading

import httpx
import pytest
from django.db import connection as db
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira.connection import client as jira_client
from allyproof.integrations.jira.connection import tokens
from allyproof.integrations.jira.connection import vault
from allyproof.integrations.jira.connection.errors import NeedsReconnect
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection
from jira_sandbox import Sandbox, SandboxConfig
from jira_sandbox.serve import make_server
from tests.jira.conftest import connect
from tests.services import require_postgres


def token_calls(sb, grant_type="refresh_token"):
    return [r for r in sb.requests if r.path == "/oauth/token" and (r.body or {}).get("grant_type") == grant_type]


def test_expired_access_token_is_refreshed_before_the_call(connected, sandbox):
    old = vault.open_(connected, "access_token")
    with clock.frozen(clock.now() + dt.timedelta(hours=1)):
        project = client_for(connected).get_project("ACME")
    assert project["key"] == "ACME"
    connected.refresh_from_db()
    assert vault.open_(connected, "access_token") != old
    assert len(token_calls(sandbox)) == 1


def test_a_401_refreshes_once_and_retries(connected, sandbox):
    sandbox.expire_access_tokens()  # Jira stops accepting the token before its stated expiry
    assert client_for(connected).get_project("ACME")["key"] == "ACME"
    assert len(token_calls(sandbox)) == 1


def test_refresh_token_reused_outside_the_leeway_means_needs_reconnect(connected, sandbox, client, admin_user):
    stale_refresh = connected.refresh_token  # what a stale process still holds
    tokens.refresh(connected.pk, rejected_token=vault.open_(connected, "access_token"))  # rotates
    sandbox.clock.freeze()
    sandbox.clock.advance(minutes=11)
    JiraConnection.objects.filter(pk=connected.pk).update(refresh_token=stale_refresh, access_expires_at=clock.now())
    with pytest.raises(NeedsReconnect):
        tokens.access_token(connected.pk)
    connected.refresh_from_db()
    assert connected.status == JiraConnection.Status.NEEDS_RECONNECT
    assert "invalid_grant" in connected.reconnect_reason or "refused" in connected.reconnect_reason
    with pytest.raises(NeedsReconnect, match="reconnected by an admin"):
        client_for(connected).get_project("ACME")  # every call now refuses, clearly
    page = client.get(reverse("sites")).content.decode()
    assert "Jira needs to be reconnected." in page  # the admin's banner
    # Reconnect keeps the same row (and so every link), with a new grant.
    client.force_login(admin_user)
    connection = connect(client, sandbox)
    assert connection.pk == connected.pk and connection.status == JiraConnection.Status.ACTIVE
    assert client_for(connection).get_project("ACME")["key"] == "ACME"


def test_reuse_within_the_leeway_is_tolerated(connected, sandbox):
    stale_refresh = connected.refresh_token
    tokens.refresh(connected.pk, rejected_token=vault.open_(connected, "access_token"))
    JiraConnection.objects.filter(pk=connected.pk).update(refresh_token=stale_refresh, access_expires_at=clock.now())
    assert tokens.access_token(connected.pk)
    connected.refresh_from_db()
    assert connected.status == JiraConnection.Status.ACTIVE


@pytest.fixture
def served_sandbox():
    sb = Sandbox(SandboxConfig.default())
    sb.auto_approve = True
    server = make_server(sb, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sb, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_refreshing_at_once_call_the_token_endpoint_once(
    client, admin_user, site, served_sandbox, tmp_path, settings
):
    require_postgres()
    sb, url = served_sandbox
    settings.CONFIG = settings.CONFIG.replace(atlassian_auth_url=url, atlassian_api_url=url)
    client.force_login(admin_user)
    with jira_client.transport(httpx.HTTPTransport()):
        connection = connect(client, sb)
    JiraConnection.objects.filter(pk=connection.pk).update(access_expires_at=clock.now())  # both must refresh
    sb.faults.add(kind="latency", method="POST", path="/oauth/token", seconds=0.5)  # widen the race
    go = tmp_path / "go"
    db_settings = db.settings_dict
    env = {
        **os.environ, "ATLASSIAN_AUTH_URL": url, "ATLASSIAN_API_URL": url,
        "DATABASE_URL": f"postgres://{db_settings['USER']}@{db_settings['HOST']}:{db_settings['PORT']}/{db_settings['NAME']}",
        "ALLYPROOF_TEST_DATABASE_URL": "",
    }
    workers = [
        subprocess.Popen([sys.executable, "tests/jira/refresh_worker.py", str(connection.pk), str(go)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    go.touch()
    outputs = [w.communicate(timeout=60) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-500:] for o in outputs]
    tokens_seen = {o[0].strip() for o in outputs}
    assert len(tokens_seen) == 1  # both proceed, with the same fresh token
    assert len(token_calls(sb)) == 1
    connection.refresh_from_db()
    assert vault.open_(connection, "access_token") == tokens_seen.pop()
