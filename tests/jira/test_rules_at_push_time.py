"""Rules re-read before every item (Build 6): auto-push Off cancels queued auto jobs at once and stops a
running one before its next item; a tightened rule applies to the next item; a disconnect stops the job."""

import datetime as dt

import pytest

from allyproof.core import clock
from allyproof.core import impact as impacts
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import PushJob, PushJobItem, SiteSyncRule
from tests.jira.conftest import NoGate


@pytest.fixture(autouse=True)
def one_clock(sandbox):
    sandbox.clock.freeze()
    with clock.follow(lambda: dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)):
        yield


def save(connected, site, **over):
    values = {"enabled": True, "project_key": "ACME", "severities": frozenset(impacts.VALUES), "issue_type": "",
              "auto_push": False, **over}
    result = rules.rules_save(connection=connected, by=None, client=client_for(connected, gate=NoGate()),
                              inputs=[rules.RuleInput(site_id=site.pk, **values)])
    assert result.ok, result.errors


def auto_job(site):
    SiteSyncRule.objects.filter(site=site).update(auto_push=True, auto_push_since=clock.now() - dt.timedelta(days=9999))
    return jobs.push_job_create(site=site, violations=site.violations.order_by("rule_id"), kind=PushJob.Kind.AUTO,
                                project_key="ACME", enqueue=None)


class Hook:
    """A client wrapper that runs `action` right after the first create: 'meanwhile, an admin…'."""

    def __init__(self, connection, action):
        self.client, self.action, self.fired = client_for(connection, gate=NoGate()), action, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create_issue(self, body):
        issue = self.client.create_issue(body)
        if not self.fired:
            self.fired = True
            self.action()
        return issue


def run(job, client):
    return jobs.push_job_run(job_id=job.pk, client_for=lambda c: client, violation_url=push.absolute_violation_url,
                             gate=NoGate(), sleep=lambda s: None)


def test_switching_auto_push_off_cancels_a_queued_auto_job_at_once(acme, connected, sandbox):
    save(connected, acme, auto_push=True)
    job = auto_job(acme)
    save(connected, acme, auto_push=False)
    job.refresh_from_db()
    assert job.status == PushJob.Status.CANCELLED and job.cancel_reason == "Stopped: auto-push was switched off."
    assert run(job, client_for(connected, gate=NoGate())) is None  # nothing to claim
    assert sandbox.issues(None) == []


def test_switching_auto_push_off_stops_a_running_auto_job_before_its_next_item(acme, connected, sandbox):
    save(connected, acme, auto_push=True)
    job = auto_job(acme)
    run(job, Hook(connected, lambda: save(connected, acme, auto_push=False)))
    job.refresh_from_db()
    assert job.status == PushJob.Status.CANCELLED
    assert len(sandbox.issues(None)) == 1  # the one in flight when Off was clicked; nothing after
    assert job.items.filter(status=PushJobItem.Status.PENDING).count() == 0


def test_auto_push_off_without_the_rules_service_still_stops_before_the_next_item(acme, connected, sandbox):
    save(connected, acme, auto_push=True)
    job = auto_job(acme)
    run(job, Hook(connected, lambda: SiteSyncRule.objects.filter(site=acme).update(auto_push=False)))
    job.refresh_from_db()
    assert job.status == PushJob.Status.CANCELLED and job.cancel_reason == "Stopped: auto-push was switched off."
    assert len(sandbox.issues(None)) == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"severities": frozenset({"minor"})}, "below this site's threshold"),
    ({"enabled": False}, "This site is excluded from Jira sync."),
])
def test_a_tightened_rule_applies_to_the_next_item_of_a_bulk_job(acme, connected, sandbox, change, reason):
    save(connected, acme)
    job = jobs.push_job_create(site=acme, violations=acme.violations.exclude(impact="minor").order_by("rule_id"),
                               kind=PushJob.Kind.BULK, project_key="ACME", enqueue=None)
    run(job, Hook(connected, lambda: save(connected, acme, **{"project_key": "ACME", **change})))
    states = list(job.items.order_by("position").values_list("status", "reason"))
    assert states[0][0] == "pushed" and len(sandbox.issues(None)) == 1
    assert all(status == "skipped" and reason in why for status, why in states[1:])


def test_a_new_project_applies_to_the_next_item(acme, connected, sandbox):
    save(connected, acme)
    job = jobs.push_job_create(site=acme, violations=acme.violations.order_by("rule_id")[:3], kind=PushJob.Kind.BULK,
                               project_key="ACME", enqueue=None)
    run(job, Hook(connected, lambda: save(connected, acme, project_key="WEB")))
    assert [i["key"].split("-")[0] for i in sandbox.issues(None)] == ["ACME", "WEB", "WEB"]


def test_a_disconnect_mid_job_stops_it_before_the_next_item(acme, connected, sandbox, client):
    from django.urls import reverse

    save(connected, acme)
    job = jobs.push_job_create(site=acme, violations=acme.violations.order_by("rule_id"), kind=PushJob.Kind.BULK,
                               project_key="ACME", enqueue=None)
    run(job, Hook(connected, lambda: client.post(reverse("jira_disconnect"))))
    job.refresh_from_db()
    assert job.status == PushJob.Status.CANCELLED and len(sandbox.issues(None)) == 1
