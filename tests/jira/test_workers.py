"""Real Huey consumers in their own processes, on PostgreSQL, against the sandbox served on a port:
a worker killed mid-job, and pacing shared by two workers."""

import os
import signal
import statistics
import socket
import subprocess
import sys
import time

import httpx
import pytest
from django.db import connection as db

from allyproof.integrations.jira import client as jira_client
from allyproof.integrations.jira import jobs, rules
from allyproof.integrations.jira.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, PushJob, PushJobItem
from tests import factories
from tests.jira.conftest import connect
from tests.services import require_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
STALE_SECONDS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sandbox_process():
    """The sandbox in its own process, as the demo runs it: its clock and GIL are its own."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "jira_sandbox", "serve", "--host", "127.0.0.1", "--port",
                                str(port), "--auto-approve", "--index-delay", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url), timeout=20)
    yield url
    process.terminate()
    process.wait()


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/_sandbox/clock", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def world(client, admin_user, org, settings, sandbox_process):
    require_postgres()
    url = sandbox_process
    settings.CONFIG = settings.CONFIG.__class__(**{
        **settings.CONFIG.__dict__, "atlassian_auth_url": url, "atlassian_api_url": url,
        "jira_push_interval_ms": 150, "jira_job_stale_seconds": STALE_SECONDS,
        # A worker killed mid-create leaves an unknown outcome: the protocol's windows, short here.
        "jira_commit_window_seconds": 1, "jira_search_lag_seconds": 1})
    client.force_login(admin_user)
    jira_client.use_transport(httpx.HTTPTransport())
    connection = connect(client, None)
    sites = []
    for name, host, key in (("ACME Dental", "www.acme-dental.example", "ACME"), ("Web Co", "web.example", "WEB")):
        site = factories.site(org, name, f"https://{host}/")
        factories.ingest(site, factories.axe_fixture("multi_page__site.json").replace(
            b"www.acme-dental.example", host.encode()))
        result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
            rules.RuleInput(site_id=site.pk, enabled=True, project_key=key, severities=frozenset(rules.IMPACTS),
                            issue_type="", auto_push=False)])
        assert result.ok, result.errors
        sites.append(site)
    workers = []
    env = {**os.environ, "ATLASSIAN_AUTH_URL": url, "ATLASSIAN_API_URL": url, "JIRA_PUSH_INTERVAL_MS": "150",
           "JIRA_JOB_STALE_SECONDS": str(STALE_SECONDS), "ALLYPROOF_TEST_DATABASE_URL": "",
           "JIRA_COMMIT_WINDOW_SECONDS": "1", "JIRA_SEARCH_LAG_SECONDS": "1",
           "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db.settings_dict)}

    def start_worker():
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_huey", "--workers", "1", "--worker-type", "thread", "--no-periodic",
             "--delay", "0.1", "--max-delay", "0.5"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers.append(process)
        return process

    yield {"url": url, "connection": connection, "sites": sites, "start_worker": start_worker}
    for process in workers:
        if process.poll() is None:
            process.kill()
        process.wait()
    jira_client.use_transport(None)


def wait_for(predicate, timeout=90.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def bulk_job(site):
    return jobs.push_job_create(site=site, violations=site.violations.order_by("rule_id"), kind="bulk",
                                project_key=site.jira_rule.project_key)


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
    assert jobs.push_jobs_sweep() == [job.pk]  # what the periodic sweeper does every minute
    world["start_worker"]()
    wait_for(lambda: PushJob.objects.get(pk=job.pk).status == PushJob.Status.COMPLETED)
    assert set(job.items.values_list("status", flat=True)) <= {PushJobItem.Status.PUSHED, PushJobItem.Status.SKIPPED}
    labels = issue_labels(world["connection"], "ACME")
    assert len(labels) == len(set(labels)) == site.violations.count()  # one issue per violation, no duplicate
    assert JiraLink.objects.filter(status="linked").count() == site.violations.count()


def test_two_workers_share_the_pacing_of_one_jira_site(world):
    before = len(api_calls(world["url"]))
    job_a, job_b = bulk_job(world["sites"][0]), bulk_job(world["sites"][1])
    world["start_worker"]()
    world["start_worker"]()
    wait_for(lambda: PushJob.objects.filter(pk__in=[job_a.pk, job_b.pk], status="completed").count() == 2)
    calls = api_calls(world["url"])[before:]
    starts = sorted(PushJob.objects.filter(pk__in=[job_a.pk, job_b.pk]).values_list("started_at", flat=True))
    assert (starts[1] - starts[0]).total_seconds() < 2  # both workers really ran at the same time
    gaps = [b["time"] - a["time"] for a, b in zip(calls, calls[1:])]
    assert len(calls) >= 2 * world["sites"][0].violations.count()
    # The gate spaces the sends 150 ms apart across both processes. What the sandbox sees also carries
    # the scheduling jitter of a loaded 2-core machine (a request can land some ms late, shortening the
    # next gap by as much), so: the typical gap is 150 ms, any ten consecutive calls span at least nine
    # intervals less one jitter allowance, and no two calls ever arrive as a burst.
    assert statistics.median(gaps) >= 0.148, sorted(gaps)
    spans = [calls[i + 9]["time"] - calls[i]["time"] for i in range(len(calls) - 9)]
    assert min(spans) >= 9 * 0.150 - 0.060, min(spans)
    assert min(gaps) >= 0.050, sorted(gaps)[:5]
    assert len(issue_labels(world["connection"], "ACME")) + len(issue_labels(world["connection"], "WEB")) == len(calls)
