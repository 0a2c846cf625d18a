"""What a push job item no longer re-does (issue 11: a consumer's CPU an item) keeps its guarantees: the
cancel check still comes before every item, a client is built again when the connection's tokens change,
and the points budget's one-UPDATE observe keeps the larger "used" figure."""

import datetime as dt

import pytest

from allyproof.core import clock
from allyproof.integrations.jira.connection import budget
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection, PointsPool, PushJob, PushJobItem
from allyproof.integrations.jira.outbound import job_control, jobs, push
from tests.jira.conftest import NoGate


@pytest.fixture(autouse=True)
def one_clock(sandbox):
    sandbox.clock.freeze()
    with clock.follow(lambda: dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)):
        yield


class AfterCreate:
    """The real client; `then(n)` runs after its n-th create answered (what another process does meanwhile)."""

    def __init__(self, client, then, counter):
        self._client, self._then, self._counter = client, then, counter

    def __getattr__(self, name):
        return getattr(self._client, name)

    def create_issue(self, body):
        issue = self._client.create_issue(body)
        self._counter["creates"] += 1
        self._then(self._counter["creates"])
        return issue


def run(job, sandbox, then):
    counter = {"creates": 0, "clients": 0}

    def build(connection):
        counter["clients"] += 1
        return AfterCreate(client_for(connection, gate=NoGate()), then, counter)

    jobs.push_job_run(job_id=job.pk, client_for=build, violation_url=push.absolute_violation_url, gate=NoGate(),
                      sleep=sandbox.clock.advance, rand=lambda: 0.5)
    job.refresh_from_db()
    return counter


def make_job(site, n=3):
    return jobs.push_job_create(site=site, violations=list(site.violations.order_by("rule_id")[:n]), kind="bulk",
                                project_key="ACME", enqueue=None)


def test_a_job_cancelled_while_running_stops_before_its_next_item(acme, sandbox):
    job = make_job(acme)
    counter = run(job, sandbox, then=lambda n: job_control.stop_job(job, "Stopped: cancelled.") if n == 1 else None)
    assert (job.status, counter["creates"]) == (PushJob.Status.CANCELLED, 1)
    assert sorted(job.items.values_list("status", flat=True)) == [PushJobItem.Status.FAILED, PushJobItem.Status.FAILED,
                                                                  PushJobItem.Status.PUSHED]


@pytest.mark.parametrize("change, clients", [
    (None, 1),  # the same connection row: one client for the job's turn
    ("tokens_refreshed_at", 2),  # another process refreshed the tokens: the next item builds a client again
    ("access_expires_at", 2),
])
def test_the_client_is_built_again_when_the_connections_tokens_change(acme, sandbox, connected, change, clients):
    def then(n):
        if n == 1 and change:
            JiraConnection.objects.filter(pk=connected.pk).update(**{change: clock.now() + dt.timedelta(minutes=30)})

    counter = run(make_job(acme), sandbox, then)
    assert (counter["creates"], counter["clients"]) == (3, clients)


# (the row before: hour, used, quota), the header's (quota, remaining), the row after (hour, used, quota)
OBSERVED = [
    ((7, 100, 1000), (1000, 600), (7, 400, 1000)),  # Jira knows of more traffic than we counted: its figure
    ((7, 500, 1000), (1000, 600), (7, 500, 1000)),  # we counted more: ours stays
    ((7, 100, 1000), (None, 600), (7, 400, 1000)),  # no quota in the header: the one known is used
    ((7, 100, 1000), (2000, None), (7, 100, 2000)),  # a quota alone changes no count
    ((6, 900, 1000), (1000, 950), (7, 50, 1000)),  # a new hour: last hour's count is gone
    ((7, 100, None), (None, 600), (7, 100, None)),  # no quota known at all: remaining says nothing
]


@pytest.mark.django_db
@pytest.mark.parametrize("before, header, after", OBSERVED)
def test_observe_on_a_pool_row_keeps_the_larger_used_figure(before, header, after):
    PointsPool.objects.create(key="site-1", hour=before[0], used=before[1], quota=before[2])
    budget.DatabaseStore(default_quota=65000).observe("site-1", 7, *header)
    row = PointsPool.objects.get(key="site-1")
    assert (row.hour, row.used, row.quota) == after


@pytest.mark.django_db
def test_observe_makes_a_missing_pool_row():
    budget.DatabaseStore(default_quota=65000).observe(budget.GLOBAL, 7, 1000, 600)
    row = PointsPool.objects.get(key=budget.GLOBAL)
    assert (row.hour, row.used, row.quota) == (7, 400, 1000)
