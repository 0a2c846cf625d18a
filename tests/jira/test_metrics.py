"""Prometheus metrics at the seams: Jira calls, push items, pauses, deliveries, reconciliation.

Values are read back from prometheus_client's registry, as a scrape would see them, before and after."""

import datetime as dt

import pytest
from prometheus_client import REGISTRY

from allyproof.core import clock
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import PushJob
from allyproof.integrations.jira.tasks import reconcile_all
from tests.jira.conftest import NoGate
from tests.jira.test_inbound import linked, post  # noqa: F401  (fixture)
from tests.jira.test_reconcile import push_all


def value(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Metric values now, to compare with later (the registry lives as long as the test process)."""

    def __init__(self, *series):
        self.series = series
        self.before = [value(name, **labels) for name, labels in series]

    def now(self):
        return [value(name, **labels) - old for (name, labels), old in zip(self.series, self.before, strict=True)]


def test_a_job_counts_its_items_creates_pauses_and_jira_calls(acme, sandbox, connected, one_clock):
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/rest/api/3/issue$",
                       reason="jira-quota-global-based", retry_after=30)
    watched = Delta(
        ("allyproof_jira_push_items_total", {"outcome": "pushed"}),
        ("allyproof_jira_issues_created_total", {}),
        ("allyproof_jira_pauses_total", {"scope": "global", "reason": "jira-quota-global-based"}),
        ("allyproof_jira_request_seconds_count", {"method": "POST", "outcome": "429"}),
        ("allyproof_jira_request_seconds_count", {"method": "POST", "outcome": "2xx"}),
    )
    violations = list(acme.violations.order_by("rule_id")[:2])
    job = jobs.push_job_create(site=acme, violations=violations, kind=PushJob.Kind.BULK, project_key="ACME",
                               enqueue=None)
    gate = pacing.DatabaseGate(interval=0, clock=sandbox.clock.now, sleep=sandbox.clock.advance)
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5)
    pushed, created, pauses, refused, accepted = watched.now()
    assert (pushed, created, pauses, refused) == (2, 2, 1, 1)
    assert accepted >= 2  # two creates, plus the issue-property writes


@pytest.mark.parametrize(("reason", "scope"), [("jira-burst-based", "site"), ("jira-quota-tenant-based", "site"),
                                             ("jira-quota-global-based", "global")])
def test_a_pause_is_counted_under_its_scope(reason, scope, acme, sandbox, connected, one_clock):
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/rest/api/3/issue$", reason=reason, retry_after=30)
    watched = Delta(("allyproof_jira_pauses_total", {"scope": scope, "reason": reason}))
    job = jobs.push_job_create(site=acme, violations=[acme.violations.get(rule_id="image-alt")],
                               kind=PushJob.Kind.BULK, project_key="ACME", enqueue=None)
    gate = pacing.DatabaseGate(interval=0, clock=sandbox.clock.now, sleep=sandbox.clock.advance)
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=gate),
                      violation_url=push.absolute_violation_url, gate=gate, sleep=sandbox.clock.advance,
                      rand=lambda: 0.5)
    assert watched.now() == [1]


def test_reconciliation_counts_each_decision(acme, connected, sandbox):
    push_all(acme, connected, ["image-alt", "color-contrast", "label"])
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.delete_issue(None, "ACME-2")
    watched = Delta(*(("allyproof_jira_reconcile_decisions_total", {"decision": d})
                      for d in ("resolved", "deleted", "still_open")))
    reconcile_all.call_local()
    assert watched.now() == [1, 1, 1]


def test_deliveries_are_counted_by_outcome(linked, sandbox, client):  # noqa: F811
    watched = Delta(*(("allyproof_jira_webhook_deliveries_total", {"outcome": o}) for o in ("received", "unauthenticated")),
                    ("allyproof_jira_webhook_applied_total", {"outcome": "applied"}))
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()  # answered "received" at intake, then applied by the worker's run
    assert post(client, {"webhookEvent": "jira:issue_updated"}, token="forged").status_code == 401
    assert watched.now() == [1, 1, 1]


def test_a_transport_failure_is_timed_as_network(acme, connected, sandbox):
    sandbox.faults.add(kind="timeout", method="GET", path=r"/rest/api/3/project/")
    watched = Delta(("allyproof_jira_request_seconds_count", {"method": "GET", "outcome": "network"}))
    with pytest.raises(Exception):  # noqa: B017  (the client's own error type; the metric is the point)
        client_for(connected, gate=NoGate()).get_project("ACME")
    assert watched.now() == [1]
