"""Issue 8's cases end to end: the sandbox served as its own process, a real Huey consumer, PostgreSQL.
Each ends with exactly one Jira issue per violation and checks what a person sees on the way.
The protocol windows are set to seconds here (settings), so the real clock can run them."""


import httpx
import pytest
from django.urls import reverse

from allyproof.core import impact as impacts
from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, PushJob, PushJobItem
from tests import factories
from tests.jira.conftest import connect, empty_queue
from tests.jira.served import Consumers, real_http, sandbox_served, wait_for
from tests.services import require_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
WINDOWS = {"JIRA_COMMIT_WINDOW_SECONDS": "2", "JIRA_SEARCH_LAG_SECONDS": "3", "JIRA_FIRST_LOOK_SECONDS": "1",
           "JIRA_HTTP_TIMEOUT_SECONDS": "1",
           "JIRA_JOB_STALE_SECONDS": "3", "JIRA_PUSH_INTERVAL_MS": "50"}
ISSUE = "/rest/api/3/issue$"


@pytest.fixture
def served():
    with sandbox_served() as url:
        yield url


@pytest.fixture
def world(client, admin_user, org, settings, served):
    require_postgres()
    empty_queue()
    url = served
    settings.CONFIG = settings.CONFIG.replace(
        atlassian_auth_url=url, atlassian_api_url=url,
        jira_push_interval_ms=50, jira_job_stale_seconds=3, jira_commit_window_seconds=2,
        jira_search_lag_seconds=3, jira_first_look_seconds=1, jira_http_timeout_seconds=1.0)
    with real_http(), Consumers(url, **WINDOWS) as consumers:
        client.force_login(admin_user)
        connection = connect(client, None)
        site = factories.site(org, "ACME Dental", "https://www.acme-dental.example/")
        factories.ingest(site, factories.axe_fixture("multi_page__site.json"))

        def save(**over):
            values = {"enabled": True, "project_key": "ACME", "severities": frozenset(impacts.VALUES),
                      "issue_type": "", "auto_push": False, **over}
            result = rules.rules_save(connection=connection, by=None, client=client_for(connection),
                                      inputs=[rules.RuleInput(site_id=site.pk, **values)])
            assert result.ok, result.errors

        save()
        yield {"url": url, "connection": connection, "site": site, "start_worker": consumers.start, "save": save,
               "client": client}


def control(world, path, body=None):
    response = httpx.post(world["url"] + "/_sandbox/" + path, json=body or {}, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def labels_in_jira(world, project="ACME"):
    issues = client_for(world["connection"]).search(f"project = {project}", fields=["labels"])
    return [label for issue in issues for label in issue["fields"]["labels"] if label.startswith("allyproof-")]


def creates(world):
    log = httpx.get(world["url"] + "/_sandbox/requests", timeout=10).json()
    return [r for r in log if r["method"] == "POST" and r["path"].endswith("/rest/api/3/issue")]


def job_of(world, violations, kind=PushJob.Kind.BULK):
    return jobs.push_job_create(site=world["site"], violations=violations, kind=kind, project_key="ACME",
                                enqueue=tasks.run_push_job)


def button_text(world, violation):
    return world["client"].get(reverse("jira_violation_button", args=[violation.site_id, violation.pk])).content.decode()


def finished(job):
    return PushJob.objects.get(pk=job.pk).status in (PushJob.Status.COMPLETED, PushJob.Status.CANCELLED)


@pytest.mark.parametrize("case", ["1 lost response, slow search", "2 late commit", "3 unreadable 2xx"])
def test_an_unknown_outcome_ends_with_one_issue_and_shows_checking_jira(world, case):
    violation = world["site"].violations.get(rule_id="image-alt")
    if case.startswith("1"):
        control(world, "search-lag", {"seconds": 2.5})  # longer than the old 0+1+2+4 s searches allowed for
        control(world, "faults", {"kind": "drop_response_after_commit", "method": "POST", "path": ISSUE})
    elif case.startswith("2"):
        control(world, "faults", {"kind": "late_commit", "method": "POST", "path": ISSUE, "seconds": 1.5,
                                  "commit_after": 1.5})  # our client gives up at 1 s; Jira commits at 1.5 s
    else:
        control(world, "search-lag", {"seconds": 1})
        control(world, "faults", {"kind": "commit_then_unreadable", "method": "POST", "path": ISSUE})
    job = job_of(world, [violation])
    world["start_worker"]()
    seen = set()

    def observe():
        link = JiraLink.objects.filter(violation=violation).first()
        if link is not None and link.state == "checking":
            seen.add("checking")
            if "Checking Jira…" in button_text(world, violation):
                seen.add("button")
        return finished(job)

    wait_for(observe, timeout=60, interval=0.05)
    assert seen == {"checking", "button"}  # a person saw "Checking Jira…" while it waited
    link = JiraLink.objects.get(violation=violation)
    assert link.status == JiraLink.Status.LINKED and labels_in_jira(world) == [link.label]
    assert len(creates(world)) == 1  # Jira had committed it: never created again
    assert "ACME-1" in button_text(world, violation)


def test_4_a_retry_after_holds_the_other_workers_reserved_slot(world):
    site, save = world["site"], world["save"]
    other = factories.site(site.organization, "Web Co", "https://web.example/")
    factories.ingest(other, factories.axe_fixture("multi_page__site.json").replace(b"www.acme-dental.example",
                                                                                   b"web.example"))
    save()
    rules.rules_save(connection=world["connection"], by=None, client=client_for(world["connection"]), inputs=[
        rules.RuleInput(site_id=other.pk, enabled=True, project_key="WEB", severities=frozenset(impacts.VALUES),
                        issue_type="", auto_push=False)])
    # A burst 429. After a tenant-quota 429 the points budget (issue 11) parks bulk work until the hour's
    # reset (seen: a job parked 2,838 s), so that reason made this test wait past its timeout.
    control(world, "faults", {"kind": "rate_limit", "method": "POST", "path": ISSUE, "retry_after": 2,
                              "reason": "jira-burst-based", "count": 1})
    job_a = job_of(world, site.violations.order_by("rule_id"))
    job_b = jobs.push_job_create(site=other, violations=other.violations.order_by("rule_id"), kind="bulk",
                                 project_key="WEB", enqueue=tasks.run_push_job)
    world["start_worker"]()
    world["start_worker"]()
    wait_for(lambda: finished(job_a) and finished(job_b), timeout=90)
    log = [r for r in httpx.get(world["url"] + "/_sandbox/requests", timeout=10).json() if r["path"].startswith("/ex/")]
    [limited] = [r for r in log if r["status"] == 429]
    after = [r for r in log if r["time"] > limited["time"]]
    assert after and min(r["time"] for r in after) >= limited["time"] + 2  # sandbox clock: no call in the pause
    labels = labels_in_jira(world) + labels_in_jira(world, "WEB")
    assert len(labels) == len(set(labels)) == site.violations.count() + other.violations.count()


def test_6_auto_push_off_stops_a_running_auto_job(world):
    site, save = world["site"], world["save"]
    save(auto_push=True)
    from allyproof.integrations.jira.models import SiteSyncRule
    import datetime as dt
    SiteSyncRule.objects.filter(site=site).update(auto_push_since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    control(world, "faults", {"kind": "latency", "method": "POST", "path": ISSUE, "seconds": 0.3, "count": 100})
    job = job_of(world, site.violations.order_by("rule_id"), kind=PushJob.Kind.AUTO)
    world["start_worker"]()
    wait_for(lambda: job.items.filter(status=PushJobItem.Status.PUSHED).exists(), timeout=60, interval=0.05)
    save(auto_push=False)
    at_off = len(creates(world))
    wait_for(lambda: finished(job), timeout=30)
    assert PushJob.objects.get(pk=job.pk).status == PushJob.Status.CANCELLED
    assert len(creates(world)) <= at_off + 1  # at most the one already in flight
    # The create in flight at "Off" may still be reaching Jira's search: read the labels once it has.
    wait_for(lambda: len(labels_in_jira(world)) == len(creates(world)), timeout=30)
    labels = labels_in_jira(world)
    assert len(labels) == len(set(labels)) < site.violations.count()


def test_7_a_required_field_added_later_stops_the_site_with_one_message(world):
    site = world["site"]
    control(world, "required-fields", {"project_key": "ACME", "issue_type": "Bug", "field_id": "customfield_10060",
                                       "name": "Cost centre"})
    job = job_of(world, site.violations.order_by("rule_id"))
    world["start_worker"]()
    wait_for(lambda: finished(job), timeout=60)
    job.refresh_from_db()
    message = "Jira now requires Cost centre for Bug in ACME — fix it in Jira or in Sync rules, then Retry failed"
    assert job.status == PushJob.Status.CANCELLED and job.cancel_reason == message
    assert len(creates(world)) == 1  # not 17 identical refusals
    site.jira_rule.refresh_from_db()
    assert site.jira_rule.problems == [message]
