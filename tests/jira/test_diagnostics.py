"""Settings → Support's diagnostics for a connected organization: what happened lately, no secrets."""

from __future__ import annotations

from django.test import Client

from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection


def test_diagnostics_tell_the_story_without_secrets(connected, acme, admin_user, sandbox, settings):
    violation = acme.violations.get(rule_id="image-alt")
    result = push.violation_push(violation=violation, connection=connected, client=client_for(connected),
                                 violation_url=push.absolute_violation_url(violation))
    client = Client()
    client.force_login(admin_user)
    body = client.get("/settings/support/").content.decode()
    connection = JiraConnection.objects.get(pk=connected.pk)
    assert "Status: Connected" in body and connection.cloud_id in body
    assert "ACME Dental: on, project ACME" in body
    assert f"create {result.link.issue_key}" in body  # the write we made
    for secret in (connection.access_token, connection.refresh_token, settings.CONFIG.atlassian_client_secret,
                   settings.CONFIG.secret_key):
        assert secret and secret not in body
