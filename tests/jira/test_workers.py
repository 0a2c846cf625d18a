"""Real Huey consumers in their own processes, on PostgreSQL, against the sandbox served on a port:
a worker killed mid-job, and two workers pushing to one Jira site through one gate."""

import signal
import time

import httpx
import pytest

from allyproof.core import impact as impacts
from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.outbound import job_control, jobs
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, PacingGate, PushJob, PushJobItem
from tests import factories
from tests.jira.conftest import connect, empty_queue
from tests.jira.served import Consumers, real_http, sandbox_served, wait_for
from tests.services import require_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
STALE_SECONDS = 3


@pytest.fixture
def world(client, admin_user, org, settings):
    require_postgres()
    empty_queue()
    with (sandbox_served() as url, real_http(),
          Consumers(url, JIRA_PUSH_INTERVAL_MS="150", JIRA_JOB_STALE_SECONDS=str(STALE_SECONDS),
                    JIRA_COMMIT_WINDOW_SECONDS="1", JIRA_SEARCH_LAG_SECONDS="1") as consumers):
        settings.CONFIG = settings.CONFIG.replace(
            atlassian_auth_url=url, atlassian_api_url=url,
            jira_push_interval_ms=150, jira_job_stale_seconds=STALE_SECONDS,
            # A worker killed mid-create leaves an unknown outcome: the protocol's windows, short here.
            jira_commit_window_seconds=1, jira_search_lag_seconds=1)
        client.force_login(admin_user)
        connection = connect(client, None)
        sites = []
        for name, host, key in (("ACME Dental", "www.acme-dental.example", "ACME"), ("Web Co", "web.example", "WEB")):
            site = factories.site(org, name, f"https://{host}/")
            factories.ingest(site, factories.axe_fixture("multi_page__site.json").replace(
                b"www.acme-dental.example", host.encode()))
            result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
                rules.RuleInput(site_id=site.pk, enabled=True, project_key=key, severities=frozenset(impacts.VALUES),
                                issue_type="", auto_push=False)])
            assert result.ok, result.errors
            sites.append(site)
        yield {"url": url, "connection": connection, "sites": sites, "start_worker": consumers.start}


def bulk_job(site):
    return jobs.push_job_create(site=site, violations=site.violations.order_by("rule_id"), kind="bulk",
                                project_key=site.jira_rule.project_key, enqueue=tasks.run_push_job)


def api_calls(url):
    log = httpx.get(url + "/_sandbox/requests", timeout=10).json()
    return [r for r in log if r["path"].startswith("/ex/jira/")]


def issue_labels(connection, project):
    issues = client_for(connection).search(f"project = {project}", fields=["labels"])
    return [label for issue in issues for label in issue["fields"]["labels"] if label.startswith("allyproof-")]


def test_a_worker_killed_mid_job_is_resumed_and_every_violation_gets_one_issue(world):
    site = world["sites"][0]
    job = bulk_job(site)
    first = world["start_worker"]()
    wait_for(lambda: job.items.filter(status=PushJobItem.Status.PUSHED).count() >= 5)
    first.send_signal(signal.SIGKILL)  # no goodbye: the heartbeat just stops
    first.wait()
    done_at_kill = job.items.exclude(status=PushJobItem.Status.PENDING).count()
    assert done_at_kill < job.items.count()
    assert PushJob.objects.get(pk=job.pk).status == PushJob.Status.RUNNING
    time.sleep(STALE_SECONDS + 0.5)
    assert job_control.push_jobs_sweep(enqueue=tasks.run_push_job) == [job.pk]  # what the periodic sweeper does every minute
    world["start_worker"]()
    wait_for(lambda: PushJob.objects.get(pk=job.pk).status == PushJob.Status.COMPLETED)
    assert set(job.items.values_list("status", flat=True)) <= {PushJobItem.Status.PUSHED, PushJobItem.Status.SKIPPED}
    labels = issue_labels(world["connection"], "ACME")
    assert len(labels) == len(set(labels)) == site.violations.count()  # one issue per violation, no duplicate
    assert JiraLink.objects.filter(status="linked").count() == site.violations.count()


def test_two_workers_push_to_one_jira_site_through_one_gate(world):
    """Two real consumers, two bulk jobs, one Jira site: every call took a slot of the one shared gate,
    and every violation has exactly one issue. Asserted in the gate's own clock, never by timing the
    calls (the measured gaps are in bench/pacing.py; test_pacing_processes.py proves the sharing)."""
    before = len(api_calls(world["url"]))
    run_began = time.time()  # the database gate's clock
    job_a, job_b = bulk_job(world["sites"][0]), bulk_job(world["sites"][1])
    world["start_worker"]()
    world["start_worker"]()
    wait_for(lambda: PushJob.objects.filter(pk__in=[job_a.pk, job_b.pk], status="completed").count() == 2)
    calls = api_calls(world["url"])[before:]
    gate = PacingGate.objects.get(key=world["connection"].cloud_id)
    # Each call's slot is at least its caller's now (≥ run_began) and the next is one interval later,
    # whichever process asked: n calls through one gate leave its next free slot n intervals on.
    assert len(calls) >= 2 * world["sites"][0].violations.count()
    assert gate.next_slot >= run_began + len(calls) * 0.150 - 1e-6, (gate.next_slot - run_began, len(calls))
    assert PushJob.objects.filter(pk__in=[job_a.pk, job_b.pk]).exclude(started_at=None).count() == 2
    labels = issue_labels(world["connection"], "ACME") + issue_labels(world["connection"], "WEB")
    pushed = sum(site.violations.count() for site in world["sites"])
    creates = [c for c in calls if c["method"] == "POST" and c["path"].endswith("/rest/api/3/issue")]
    assert len(labels) == len(set(labels)) == len(creates) == pushed  # one issue per violation


def test_a_single_push_on_a_slow_jira_says_pushing_and_the_worker_brings_the_key(world, client, budget):
    """Case 8 end to end: a real worker, the sandbox in its own process answering the create after 3 s."""
    from django.urls import reverse

    budget(300)  # JIRA_PUSH_WAIT_MS: far less than Jira takes here, so the person must see "Pushing…"
    httpx.post(world["url"] + "/_sandbox/faults", timeout=10,
               json={"kind": "latency", "method": "POST", "path": r"/rest/api/3/issue$", "seconds": 3})
    world["start_worker"]()
    site = world["sites"][0]
    violation = site.violations.get(rule_id="image-alt")
    response = client.post(reverse("jira_violation_push", args=[site.pk, violation.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and ">Pushing…</button>" in response.content.decode()
    job = PushJob.objects.get(kind=PushJob.Kind.SINGLE)
    wait_for(lambda: PushJob.objects.get(pk=job.pk).status == PushJob.Status.COMPLETED)
    poll = client.get(reverse("jira_violation_button", args=[site.pk, violation.pk]), {"watch": job.pk},
                      HTTP_HX_REQUEST="true").content.decode()
    key = JiraLink.objects.get(violation=violation, status="linked").issue_key
    assert "In Jira: <a" in poll and f">{key}</a>" in poll and f"Created {key}." in poll and "Pushing…" not in poll
    assert issue_labels(world["connection"], key.split("-")[0]) == [JiraLink.objects.get(violation=violation).label]
