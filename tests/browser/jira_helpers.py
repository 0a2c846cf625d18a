"""Helpers for browser tests of the Jira push paths: a served sandbox, a connected organization,
sync rules through the real service, and running queued push jobs in the test process."""

from __future__ import annotations

import threading

import pytest
from django.test import Client
from django.utils.csp import CSP

from allyproof.integrations.jira.connection import client as jira_client
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection, PushJob
from jira_sandbox import Sandbox, SandboxConfig
from jira_sandbox.serve import make_server
from tests.jira.conftest import connect

ALL = ("critical", "serious", "moderate", "minor")


@pytest.fixture
def served_sandbox(live_server, settings):
    """The sandbox on a real port, AllyProof pointed at it (no pacing), consent auto-approved."""
    sb = Sandbox(SandboxConfig.default())
    sb.auto_approve = True
    server = make_server(sb, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    settings.CONFIG = settings.CONFIG.replace(
        atlassian_auth_url=url, atlassian_api_url=url,
        public_url=live_server.url, jira_push_interval_ms=0)
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, url]}
    jira_client.use_transport(None)  # real HTTP to the served sandbox, from the test and the live server
    yield sb
    server.shutdown()
    server.server_close()
    assert not sb.conformance.failures, sb.conformance.failures[:3]


def connect_org(admin, sb) -> JiraConnection:
    """Connects the admin's organization to the sandbox's Demo Agency site (no browser needed)."""
    client = Client()
    client.force_login(admin)
    return connect(client, sb)


def save_rule(connection: JiraConnection, site, key="ACME", severities=ALL, enabled=True):
    """Saves one site's rule through the real service (the project is checked against Jira)."""
    result = rules.rules_save(
        connection=connection, by=None, client=client_for(connection),
        inputs=[rules.RuleInput(site_id=site.pk, enabled=enabled, project_key=key, severities=frozenset(severities),
                                issue_type="", auto_push=False)])
    assert result.ok, result.errors


def run_queued_jobs() -> list[PushJob]:
    """What the Huey consumer would do: run every queued push job, in this process."""
    done = []
    for job_id in PushJob.objects.filter(status=PushJob.Status.QUEUED).values_list("pk", flat=True):
        done.append(jobs.push_job_run(job_id=job_id, client_for=client_for, violation_url=push.absolute_violation_url,
                                      sleep=lambda seconds: None))
    return done
