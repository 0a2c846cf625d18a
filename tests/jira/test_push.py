"""Exactly one Jira issue per violation, whatever fails (DESIGN §8), against the sandbox."""

import datetime as dt
import threading

import pytest
from django.db import connection as db_connection

from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.errors import JiraRateLimited, JiraValidationError
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, OutboundWrite
from tests.jira.conftest import NoGate
from tests.services import require_postgres


pytestmark = pytest.mark.usefixtures("one_clock")  # tests/jira/conftest.py


def do_push(violation, connection, sandbox, **kwargs):
    return push.violation_push(
        violation=violation, connection=connection, client=client_for(connection, gate=NoGate()),
        violation_url=push.absolute_violation_url(violation), **kwargs)


def push_until_settled(violation, connection, sandbox, **kwargs):
    """Push; whenever the protocol says "Checking Jira…, come back at T", move both clocks to T and push again."""
    waits = []
    for _ in range(20):
        try:
            return do_push(violation, connection, sandbox, **kwargs), waits
        except push.PushChecking as checking:
            waits.append(checking.until)
            sandbox.clock.advance(max(0.0, checking.until.timestamp() - sandbox.clock.now()))
    raise AssertionError("the protocol never settled")


def issues_labelled(sandbox, label):
    return [i for i in sandbox.issues(None) if label in i["fields"]["labels"]]


def creates(sandbox):
    return [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/rest/api/3/issue")]


@pytest.fixture
def violation(acme):
    return acme.violations.get(rule_id="image-alt")


def test_push_creates_one_issue_with_label_property_and_link(violation, connected, sandbox):
    result = do_push(violation, connected, sandbox)
    assert result.created
    link = result.link
    assert link.status == JiraLink.Status.LINKED and link.issue_key == "ACME-1"
    assert link.issue_url == "https://demo-agency.atlassian.net/browse/ACME-1"
    issue = sandbox.get_issue(None, "ACME-1")
    assert link.label in issue["fields"]["labels"]
    assert link.issue_id == str(issue["id"])  # webhooks match by id: it survives a move to another project
    assert issue["fields"]["issuetype"]["name"] == "Bug"  # the project has Bug: the default
    assert issue["fields"]["summary"] == "[Critical] Images must have alternative text — ACME Dental"
    # Recorded for this site: the diagnostics page lists a connection's writes by it (mutation testing:
    # the record without its cloud id went unseen).
    assert OutboundWrite.objects.filter(cloud_id=connected.cloud_id, issue_key="ACME-1", kind="create",
                                        jira_id=str(issue["id"])).exists()


def test_the_issue_url_has_one_slash_whatever_the_site_url_ends_with(violation, connected, sandbox):
    connected.site_url = "https://demo-agency.atlassian.net/"
    connected.save(update_fields=["site_url"])
    assert do_push(violation, connected, sandbox).link.issue_url == "https://demo-agency.atlassian.net/browse/ACME-1"


def test_repush_returns_the_same_key_without_calling_jira(violation, connected, sandbox):
    first = do_push(violation, connected, sandbox)
    before = len(sandbox.requests)
    again = do_push(violation, connected, sandbox)
    assert again.link.issue_key == first.link.issue_key and not again.created
    assert len(sandbox.requests) == before


def test_a_lost_create_response_is_found_by_label_not_created_twice(violation, connected, sandbox):
    sandbox.set_search_lag(None, 240)  # search only sees the issue four minutes later
    sandbox.faults.add(kind="drop_response_after_commit", method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(push.PushChecking):
        do_push(violation, connected, sandbox)
    link = JiraLink.objects.get(violation=violation)
    assert link.state == "checking" and link.state_label == "Checking Jira…" and not link.claim
    result, waits = push_until_settled(violation, connected, sandbox)
    assert not result.created and result.link.issue_key == "ACME-1" and waits
    assert result.link.issue_id == str(sandbox.get_issue(None, "ACME-1")["id"])  # found by label: its id too
    assert len(issues_labelled(sandbox, result.link.label)) == 1
    assert len(creates(sandbox)) == 1


@pytest.mark.parametrize("fault", [{"kind": "timeout"}, {"kind": "error", "status": 500}, {"kind": "reset"},
                                   {"kind": "commit_then_unreadable"}, {"kind": "commit_then_error"},
                                   {"kind": "late_commit", "commit_after": 20}])
def test_unknown_outcome_waits_out_the_windows_before_creating_again(violation, connected, sandbox, fault, settings):
    sandbox.set_search_lag(None, 120)  # search trails commits by two minutes
    sent = sandbox.clock.now()
    sandbox.faults.add(method="POST", path=r"/rest/api/3/issue$", **fault)
    with pytest.raises(push.PushChecking) as checking:
        do_push(violation, connected, sandbox)
    link = JiraLink.objects.get(violation=violation)
    assert link.outcome_unknown and link.status == JiraLink.Status.CREATING and not link.claim
    assert link.state == "checking"
    windows = settings.CONFIG.jira_commit_window_seconds + settings.CONFIG.jira_search_lag_seconds
    # The first look is due a few seconds after the send (search trails writes), not sent at once.
    assert checking.value.until.timestamp() == pytest.approx(sent + settings.CONFIG.jira_first_look_seconds,
                                                              abs=0.001)  # a timestamp: relative 1e-6 is half an hour
    assert not [r for r in sandbox.requests if r.path.endswith("/search/jql")]
    result, _ = push_until_settled(violation, connected, sandbox)
    assert len(issues_labelled(sandbox, result.link.label)) == 1  # whatever Jira did, one issue
    if fault["kind"] in ("timeout", "error", "reset"):  # nothing was committed: created again, but only now
        assert result.created and len(creates(sandbox)) == 2
        assert sandbox.clock.now() >= sent + windows - 0.001  # datetimes hold microseconds
        searches = [r for r in sandbox.requests if r.path.endswith("/search/jql")]
        assert len(searches) >= 4 and searches[-1].time >= sent + windows - 0.001
        assert sandbox.requests.index(searches[-1]) < sandbox.requests.index(creates(sandbox)[-1])
    else:  # Jira committed it: found by label, never created twice
        assert not result.created and len(creates(sandbox)) == 1


def test_the_first_look_waits_a_few_seconds_then_finds_a_lost_create_with_one_search(violation, connected,
                                                                                    sandbox, settings):
    """A dropped answer: the first label search is due JIRA_FIRST_LOOK_SECONDS after the send, when Jira's
    search (3 s behind here) has caught up; sent at once it would only miss. One search finds the issue."""
    sandbox.set_search_lag(None, 3)
    sent = sandbox.clock.now()
    sandbox.faults.add(kind="drop_response_after_commit", method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(push.PushChecking) as checking:
        do_push(violation, connected, sandbox)
    assert checking.value.until.timestamp() == pytest.approx(sent + settings.CONFIG.jira_first_look_seconds, abs=0.001)
    assert JiraLink.objects.get(violation=violation).state == "checking"
    searches = lambda: [r for r in sandbox.requests if r.path.endswith("/search/jql")]  # noqa: E731
    assert not searches()
    sandbox.clock.advance(checking.value.until.timestamp() - sandbox.clock.now())
    result = do_push(violation, connected, sandbox)
    assert not result.created and result.link.issue_key == "ACME-1"
    assert len(searches()) == 1 and len(creates(sandbox)) == 1


class SlowCreates:
    """A client whose create comes back only after our 15 s timeout (the sandbox clock moves meanwhile)."""

    def __init__(self, client, sandbox, seconds):
        self._client, self._sandbox, self._seconds = client, sandbox, seconds

    def __getattr__(self, name):
        return getattr(self._client, name)

    def create_issue(self, body):
        try:
            return self._client.create_issue(body)
        finally:
            self._sandbox.clock.advance(self._seconds)


def test_a_create_that_timed_out_after_the_first_look_is_due_is_looked_for_at_once(violation, connected, sandbox):
    """Jira commits 1 s after the send; our client gives up at 15 s, later than the first look is due: the
    same attempt searches at once and finds it (no "Checking Jira…", no wait, no second create)."""
    sandbox.set_search_lag(None, 0)  # the sandbox runs a held commit at its next request: no lag on top
    sandbox.faults.add(kind="late_commit", commit_after=1, method="POST", path=r"/rest/api/3/issue$")
    result = push.violation_push(violation=violation, connection=connected,
                                 client=SlowCreates(client_for(connected, gate=NoGate()), sandbox, 15),
                                 violation_url=push.absolute_violation_url(violation))
    assert result.created  # our own create made it: found by the look in the same attempt
    assert result.link.issue_key == "ACME-1" and len(creates(sandbox)) == 1
    assert len([r for r in sandbox.requests if r.path.endswith("/search/jql")]) == 1


def test_a_refusal_after_an_unknown_outcome_leaves_nothing_outstanding(violation, connected, sandbox):
    """The create the protocol finally allows is refused (a 400): Jira made nothing, so once the cause is
    gone the next push creates at once: no "Checking Jira…", no label search, no second wait."""
    sandbox.faults.add(kind="timeout", method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(push.PushChecking):
        do_push(violation, connected, sandbox)
    sandbox.faults.add(kind="error", status=400, method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(JiraValidationError):
        push_until_settled(violation, connected, sandbox)
    link = JiraLink.objects.get(violation=violation)
    assert link.state == "creating" and not link.claim and link.claimed_at is None
    before = len(sandbox.requests)
    result = do_push(violation, connected, sandbox)
    assert result.created and len(issues_labelled(sandbox, result.link.label)) == 1
    assert [r.path for r in sandbox.requests[before:] if r.path.endswith("/search/jql")] == []


def test_a_label_search_jira_refuses_is_tried_again_later_never_taken_for_nothing_found(violation, connected,
                                                                                      sandbox):
    """A lost create, then the label search itself fails: a 429 is looked at again after its Retry-After,
    a 5xx after SEARCH_RETRY; meanwhile the reservation is free and nothing is created."""
    sandbox.set_search_lag(None, 240)
    sandbox.faults.add(kind="drop_response_after_commit", method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(push.PushChecking) as first:
        do_push(violation, connected, sandbox)
    sandbox.clock.advance(first.value.until.timestamp() - sandbox.clock.now())
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/search/jql$", reason="jira-burst-based",
                       retry_after=7)
    with pytest.raises(push.PushChecking) as limited:
        do_push(violation, connected, sandbox)
    assert limited.value.until.timestamp() == pytest.approx(sandbox.clock.now() + 7, abs=0.001)
    assert not JiraLink.objects.get(violation=violation).claim
    sandbox.faults.add(kind="error", status=503, method="POST", path=r"/search/jql$")
    with pytest.raises(push.PushChecking) as failed:
        do_push(violation, connected, sandbox)
    assert failed.value.until.timestamp() == pytest.approx(sandbox.clock.now() + push.SEARCH_RETRY.total_seconds(),
                                                            abs=0.001)
    assert not JiraLink.objects.get(violation=violation).claim
    result, _ = push_until_settled(violation, connected, sandbox)
    assert not result.created and result.link.issue_key == "ACME-1" and len(creates(sandbox)) == 1


def test_a_crash_after_jira_created_the_issue_is_recovered_by_label(violation, connected, sandbox):
    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    from allyproof.core import clock

    stale = clock.now().replace(year=2020)
    link = JiraLink.objects.create(organization_id=connected.organization_id, violation=violation,
                                   cloud_id=connected.cloud_id, dedupe_key=key, project_key="ACME",
                                   created_at=stale, claim="dead-worker", claimed_at=stale, outcome_unknown=True)
    sandbox.create_issue(None, "ACME", "made before the crash", "Bug", labels=[link.label])
    result = do_push(violation, connected, sandbox)
    assert not result.created and result.link.issue_key == "ACME-1"
    assert not creates(sandbox)


def test_a_reservation_from_before_sent_at_counts_as_sent_when_last_claimed(violation, connected, sandbox):
    """A crashed attempt stored before sent_at existed: made a day ago, last claimed five minutes ago (a
    stale claim, taken over). Its create may have left five minutes ago, inside the commit window: look,
    then wait; counting from the day-old row would allow a create at once."""
    import datetime as dt

    from allyproof.core import clock

    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    now = clock.now()
    JiraLink.objects.create(organization_id=connected.organization_id, violation=violation,
                            cloud_id=connected.cloud_id, dedupe_key=key, project_key="ACME",
                            created_at=now - dt.timedelta(days=1), claim="dead-worker",
                            claimed_at=now - dt.timedelta(minutes=5), outcome_unknown=True)
    with pytest.raises(push.PushChecking):
        do_push(violation, connected, sandbox)
    assert not creates(sandbox)
    link = JiraLink.objects.get(violation=violation)  # the crash left it unsure: people see the check
    assert link.state_label == "Checking Jira…" and not link.claim


def test_a_worker_whose_reservation_was_taken_over_releases_nothing(violation, connected, sandbox):
    """A slow attempt comes back after another worker took its stale reservation over: its release must
    leave the other worker's claim alone (the claim guards the row, not just the worker's copy of it)."""
    from allyproof.core import clock

    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    now = clock.now()
    held = JiraLink.objects.create(organization_id=connected.organization_id, violation=violation,
                                   cloud_id=connected.cloud_id, dedupe_key=key, project_key="ACME", created_at=now,
                                   claim="second-worker", claimed_at=now, sent_at=now, outcome_unknown=True)
    slow_copy = JiraLink.objects.get(pk=held.pk)
    slow_copy.claim = "first-worker"  # what the slow worker still holds in memory
    push._release(slow_copy)
    held.refresh_from_db()
    assert (held.claim, held.claimed_at) == ("second-worker", now)


def test_a_fresh_reservation_held_elsewhere_is_in_progress(violation, connected, sandbox):
    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    from allyproof.core import clock

    JiraLink.objects.create(organization_id=connected.organization_id, violation=violation, cloud_id=connected.cloud_id,
                            dedupe_key=key, project_key="ACME", created_at=clock.now(), claim="other",
                            claimed_at=clock.now())
    with pytest.raises(push.PushInProgress):
        do_push(violation, connected, sandbox)
    assert not creates(sandbox)


def test_a_required_field_added_in_jira_is_a_validation_error_naming_it(violation, connected, sandbox):
    sandbox.set_required_field(None, "ACME", "Bug", "customfield_10050", "Customer", has_default=False)
    with pytest.raises(JiraValidationError) as caught:
        do_push(violation, connected, sandbox)
    assert "customfield_10050" in caught.value.errors
    assert not JiraLink.objects.exists()  # nothing created: the reservation is released
    assert len(creates(sandbox)) == 1  # and not retried


def test_rate_limited_create_carries_reason_and_retry_after(violation, connected, sandbox):
    sandbox.faults.add(kind="rate_limit", method="POST", path=r"/rest/api/3/issue$", reason="jira-burst-based",
                       retry_after=7)
    with pytest.raises(JiraRateLimited) as caught:
        do_push(violation, connected, sandbox)
    assert (caught.value.reason, caught.value.retry_after) == ("jira-burst-based", 7)
    assert not JiraLink.objects.exists()
    assert do_push(violation, connected, sandbox).created


def test_refused_by_the_gates(violation, connected, sandbox, rules_for, acme):
    rules_for(acme, severities=("minor",))
    with pytest.raises(push.PushRefused, match="Critical violations are below this site's threshold"):
        do_push(violation, connected, sandbox)
    assert not creates(sandbox)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_pushes_make_one_issue(client, admin_user, sandbox, site, rules_for_tx):
    require_postgres()
    violation, connection = rules_for_tx
    barrier, outcomes = threading.Barrier(20), []

    def worker():
        try:
            barrier.wait()
            outcomes.append(do_push(violation, connection, sandbox).link.issue_key)
        except push.PushInProgress:
            outcomes.append("in progress")
        except Exception as error:  # noqa: BLE001 - reported below
            outcomes.append(repr(error))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(outcomes) <= {"ACME-1", "in progress"}, outcomes
    assert len(creates(sandbox)) == 1
    assert JiraLink.objects.get(violation=violation).issue_key == "ACME-1"


@pytest.fixture
def rules_for_tx(client, admin_user, sandbox, site):
    from tests import factories
    from tests.jira.conftest import connect

    client.force_login(admin_user)
    connection = connect(client, sandbox)
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    from allyproof.integrations.jira.outbound import rules

    rules.rules_save(connection=connection, by=None, client=client_for(connection),
                     inputs=[rules.RuleInput(site_id=site.pk, enabled=True, project_key="ACME",
                                             severities=frozenset({"critical"}), issue_type="", auto_push=False)])
    return site.violations.get(rule_id="image-alt"), connection


def test_reconnecting_to_the_same_site_resumes_the_links(violation, connected, sandbox, client):
    from django.urls import reverse

    from allyproof.integrations.jira.models import JiraConnection
    from tests.jira.conftest import connect

    first = do_push(violation, connected, sandbox).link
    client.post(reverse("jira_disconnect"))
    assert JiraLink.objects.get(pk=first.pk).status == JiraLink.Status.LINKED  # kept as history
    reconnected = connect(client, sandbox)
    assert reconnected.pk != connected.pk and JiraConnection.objects.count() == 2
    before = len(creates(sandbox))
    again = do_push(violation, reconnected, sandbox)
    assert (again.link.pk, again.created) == (first.pk, False)
    assert len(creates(sandbox)) == before


class PushesAgainMidCreate:
    """A client during whose create another worker pushes the same violation (in this thread: the reservation
    row is committed before the create leaves, so what the other worker sees is the same)."""

    def __init__(self, client, again):
        self._client, self._again, self.seen = client, again, []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def create_issue(self, body):
        try:
            self._again()
        except Exception as outcome:  # noqa: BLE001 - what the other worker was told, asserted by the test
            self.seen.append((type(outcome).__name__, str(outcome)))
        return self._client.create_issue(body)


def test_a_push_while_the_create_is_out_is_told_in_progress_and_takes_nothing_over(violation, connected, sandbox,
                                                                                 admin_user):
    """The reservation is claimed from the instant it is made: a second worker gets "in progress", not a
    take-over (mutation testing: `claimed_at=None` on the new row made the second worker take it over and
    wait on the protocol; SQLite runs skip the threaded twenty-push test). It also records who pushed, and
    the message people see (both unchecked before)."""
    client = PushesAgainMidCreate(client_for(connected, gate=NoGate()),
                                  lambda: do_push(violation, connected, sandbox))
    result = push.violation_push(violation=violation, connection=connected, client=client, by=admin_user,
                                 violation_url=push.absolute_violation_url(violation))
    # The message is what a job's item shows while it waits its turn.
    assert client.seen == [("PushInProgress", "This violation is being pushed to Jira right now.")]
    assert result.created and len(creates(sandbox)) == 1
    assert result.link.created_by == admin_user  # the admin's link page says who pushed it


def test_a_take_over_finds_its_own_reservation_beside_a_deleted_link_and_other_links(violation, connected, sandbox,
                                                                                   acme):
    """The violation's first issue was deleted in Jira (its old link kept as history, same dedupe key), another
    violation is linked, and a crashed attempt left this violation's reservation: the take-over locks its own
    live row (mutation testing: the lookup without the key, or without the live filter, found two rows)."""
    from allyproof.core import clock

    other = do_push(acme.violations.exclude(pk=violation.pk).first(), connected, sandbox).link
    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    stale = clock.now().replace(year=2020)
    JiraLink.objects.create(organization_id=connected.organization_id, violation=violation, cloud_id=connected.cloud_id,
                            dedupe_key=key, project_key="ACME", created_at=stale, issue_key="ACME-90",
                            status=JiraLink.Status.DELETED)
    link = JiraLink.objects.create(organization_id=connected.organization_id, violation=violation,
                                   cloud_id=connected.cloud_id, dedupe_key=key, project_key="ACME",
                                   created_at=stale, claim="dead-worker", claimed_at=stale, outcome_unknown=True)
    made = sandbox.create_issue(None, "ACME", "made before the crash", "Bug", labels=[link.label])
    result = do_push(violation, connected, sandbox)
    assert (result.link.pk, result.link.issue_key, result.created) == (link.pk, made["key"], False)
    assert JiraLink.objects.get(pk=other.pk).status == JiraLink.Status.LINKED


def test_the_issue_carries_the_dedupe_key_and_links_back_to_the_violation(violation, connected, sandbox):
    """The issue property holds the dedupe key and the violation's AllyProof address, and the description
    links back to it (mutation testing: `_create` passing no key or no address went unseen)."""
    import json

    result = do_push(violation, connected, sandbox)
    url = push.absolute_violation_url(violation)
    issue = sandbox.jira.find(connected.cloud_id, result.link.issue_key)
    assert issue.properties["allyproof"] == {"dedupeKey": result.link.dedupe_key, "rule": "image-alt",
                                             "site": violation.site.base_url, "violation": url}
    text = json.dumps(sandbox.get_issue(None, result.link.issue_key)["fields"]["description"])
    assert url in text
    # What the violation says and where its guidance is (mutation testing: `issue_input` passing no
    # description, so the help line stood in for it, or no help URL, went unseen).
    assert violation.description != violation.help and violation.description in text and violation.help_url in text
    assert f" of {violation.element_count})" in text  # "Sample elements (n of N)"


@pytest.mark.parametrize("name, made", [("Bug", "Bug"), ("", "Task")])
def test_a_rule_without_an_issue_type_id_sends_the_type_by_name(violation, connected, sandbox, name, made):
    """A rule saved while its project could not be checked keeps the chosen name and no id: the create names
    the type ("Task" when none was chosen) instead of sending an empty id (mutation testing: that branch
    was never run)."""
    from allyproof.integrations.jira.models import SiteSyncRule

    SiteSyncRule.objects.filter(site_id=violation.site_id).update(issue_type_id="", issue_type_name=name)
    result = do_push(violation, connected, sandbox)
    assert sandbox.get_issue(None, result.link.issue_key)["fields"]["issuetype"]["name"] == made
    assert creates(sandbox)[-1].body["fields"]["issuetype"] == {"name": made}


def test_a_first_push_writes_its_link_twice_the_reservation_and_the_key(violation, connected, sandbox):
    """The reservation is inserted already counted as sent, so the create follows with no write in between
    (mutation testing: ignoring the fresh mark stored sent_at again before every first create)."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(db_connection) as queries:
        assert do_push(violation, connected, sandbox).created
    writes = [q["sql"].split()[0] for q in queries.captured_queries if '"jira_jiralink"' in q["sql"]
              and q["sql"].split()[0] in ("INSERT", "UPDATE")]
    assert writes == ["INSERT", "UPDATE"]


def test_a_create_after_a_take_over_is_counted_from_its_own_send(violation, connected, sandbox, settings):
    """Two creates time out in a row, the second one once the protocol allowed it: the wait starts again from
    the second send, with no third create meanwhile (mutation testing: treating a taken-over reservation as
    fresh kept the first send time, and the protocol allowed a third create at once)."""
    sandbox.faults.add(kind="timeout", count=2, method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(push.PushChecking) as checking:
        do_push(violation, connected, sandbox)
    while len(creates(sandbox)) < 2:
        sandbox.clock.advance(max(0.0, checking.value.until.timestamp() - sandbox.clock.now()))
        with pytest.raises(push.PushChecking) as checking:
            do_push(violation, connected, sandbox)
    first, second = (r.time for r in creates(sandbox))
    windows = settings.CONFIG.jira_commit_window_seconds + settings.CONFIG.jira_search_lag_seconds
    assert second >= first + windows - 0.001
    link = JiraLink.objects.get(violation=violation)
    assert link.sent_at.timestamp() == pytest.approx(second, abs=0.001)
    assert link.state_label == "Checking Jira…"  # the second create is as unsure as the first
    assert checking.value.until.timestamp() > second
    result, _ = push_until_settled(violation, connected, sandbox)
    assert result.created and len(creates(sandbox)) == 3 and creates(sandbox)[2].time >= second + windows - 0.001


class BrokenMidCreate:
    """A client that fails on our side while the create is out (not a Jira answer: a bug, a closed socket)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def create_issue(self, body):
        raise RuntimeError("our side broke mid-request")


def test_our_own_failure_mid_create_frees_the_reservation_and_keeps_it_unsure(violation, connected, sandbox):
    """The error is ours, not Jira's: it reaches the caller as it was, the claim is released so the next
    attempt need not wait for it to go stale, and the marks stay (the create may have left). Mutation testing:
    releasing nothing turned the error into an AttributeError and left the claim."""
    with pytest.raises(RuntimeError, match="our side broke"):
        push.violation_push(violation=violation, connection=connected, client=BrokenMidCreate(
            client_for(connected, gate=NoGate())), violation_url=push.absolute_violation_url(violation))
    link = JiraLink.objects.get(violation=violation)
    assert (link.claim, link.claimed_at, link.outcome_unknown) == ("", None, True) and link.sent_at is not None


class FaultPerCreate:
    """A client that arms one sandbox fault before each create it sends, in order (faults armed together
    would all apply to the first create), and whose creates and searches each take a millisecond on the
    frozen clock (with none, a search and the next send share one instant)."""

    def __init__(self, client, sandbox, faults, tick=0.001):
        self._client, self._sandbox, self._faults, self._tick = client, sandbox, list(faults), tick

    def __getattr__(self, name):
        return getattr(self._client, name)

    def create_issue(self, body):
        if self._faults:
            self._sandbox.faults.add(method="POST", path=r"/rest/api/3/issue$", **self._faults.pop(0))
        try:
            return self._client.create_issue(body)
        finally:
            self._sandbox.clock.advance(self._tick)

    def search(self, *args, **kwargs):
        try:
            return self._client.search(*args, **kwargs)
        finally:
            self._sandbox.clock.advance(self._tick)


def test_with_zero_windows_a_second_unsure_create_is_searched_for_before_a_third(violation, connected, sandbox):
    """Zero windows (search assumed current): a 500 that made nothing, then a create Jira committed before
    answering 500. The retry in the same attempt is stamped as sent, so the search after it finds the issue
    (mutation testing: a reservation left marked fresh skipped the stamp and the search, and created a third)."""
    from allyproof.integrations.jira.outbound import outcome

    sandbox.set_search_lag(None, 0)
    client = FaultPerCreate(client_for(connected, gate=NoGate()), sandbox,
                            [{"kind": "error", "status": 500}, {"kind": "commit_then_error"}])
    result = push.violation_push(violation=violation, connection=connected, client=client,
                                 violation_url=push.absolute_violation_url(violation),
                                 windows=outcome.Windows(commit=dt.timedelta(0), search_lag=dt.timedelta(0)))
    assert result.created and len(creates(sandbox)) == 2  # our own second create, found by the search
    assert len(issues_labelled(sandbox, result.link.label)) == 1


def test_with_zero_windows_a_search_at_the_same_instant_as_the_next_send_says_nothing_about_it(
        violation, connected, sandbox):
    """A coarse clock (here frozen: no request takes any time): a 500 that made nothing, the search, then a
    create Jira committed before answering 500, all at one instant. The search came before that create, so it
    cannot count as a look after it: the create is looked for, found, and no third is sent (outcome.py's
    `checked_at >= sent_at` held for the earlier search until a new send cleared it)."""
    sandbox.set_search_lag(None, 0)
    client = FaultPerCreate(client_for(connected, gate=NoGate()), sandbox,
                            [{"kind": "error", "status": 500}, {"kind": "commit_then_error"}], tick=0)
    stored = []  # the row as a worker starting after a crash would read it, as each create leaves
    send = client.create_issue
    client.create_issue = lambda body: stored.append(JiraLink.objects.get(violation=violation).checked_at) or send(body)
    result = push.violation_push(violation=violation, connection=connected, client=client,
                                 violation_url=push.absolute_violation_url(violation), windows=zero_windows())
    assert result.created and len(creates(sandbox)) == 2
    assert len(issues_labelled(sandbox, result.link.label)) == 1
    assert stored == [None, None]  # the earlier search is forgotten in the database too, before the send


def zero_windows():
    from allyproof.integrations.jira.outbound import outcome

    return outcome.Windows(commit=dt.timedelta(0), search_lag=dt.timedelta(0))


def test_with_zero_windows_three_unsure_creates_in_a_row_end_the_attempt_checking(violation, connected, sandbox):
    """Zero windows, and three creates in a row answer a 500 that made nothing: the attempt stops after the
    third (a bounded loop, not a stream of creates), frees its reservation and says when to come back (at once:
    the windows are zero). The next attempt creates once. Mutation testing: a fourth try in the same attempt,
    a reservation left claimed, or no time to come back went unseen, as no test made three in a row."""
    from allyproof.core import clock

    sandbox.set_search_lag(None, 0)
    client = FaultPerCreate(client_for(connected, gate=NoGate()), sandbox, [{"kind": "error", "status": 500}] * 3)
    attempt = lambda: push.violation_push(violation=violation, connection=connected, client=client,  # noqa: E731
                                          violation_url=push.absolute_violation_url(violation), windows=zero_windows())
    with pytest.raises(push.PushChecking) as checking:
        attempt()
    assert len(creates(sandbox)) == 3
    assert checking.value.until == clock.now()
    link = JiraLink.objects.get(violation=violation)
    assert (link.claim, link.claimed_at) == ("", None) and link.state_label == "Checking Jira…"
    result = attempt()
    assert result.created and len(creates(sandbox)) == 4
    assert len(issues_labelled(sandbox, result.link.label)) == 1


def test_a_link_another_worker_commits_after_our_look_is_returned_as_it_is(violation, connected, sandbox):
    """Another worker's push links this violation after this push found no live link and before it reserves:
    the unique key sends this push to that row, which it returns as already linked, with no call to Jira.
    The clock is the seam: `_reserve` reads it first, and that read is where the other worker commits (the race
    only threads reach otherwise, and the threaded test needs PostgreSQL). Mutation testing: that result
    (no link, `created` True or None) was never looked at."""
    from allyproof.core import clock

    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    theirs = []

    def other_worker_links_first():
        now = dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)
        if not theirs:
            theirs.append(JiraLink.objects.create(
                organization_id=connected.organization_id, violation=violation, cloud_id=connected.cloud_id,
                dedupe_key=key, project_key="ACME", created_at=now, status=JiraLink.Status.LINKED,
                issue_key="ACME-7", linked_at=now))
        return now

    client, before = client_for(connected, gate=NoGate()), len(sandbox.requests)
    with clock.follow(other_worker_links_first):
        result = push.violation_push(violation=violation, connection=connected, client=client,
                                     violation_url=push.absolute_violation_url(violation))
    assert result.created is False
    assert (result.link.pk, result.link.issue_key) == (theirs[0].pk, "ACME-7")
    assert len(sandbox.requests) == before


class BrokenSearch:
    """A client whose label search fails on our side (not a Jira answer: a bug, a closed socket)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def search(self, *args, **kwargs):
        raise RuntimeError("our side broke mid-search")


def test_our_own_failure_during_the_label_search_frees_the_reservation(violation, connected, sandbox):
    """A lost create, then the label search fails on our side: the error reaches the caller as it was, the
    claim is released (the next attempt need not wait for it to go stale) and the reservation stays unsure.
    Mutation testing: releasing nothing turned the error into an AttributeError and left the claim."""
    sandbox.set_search_lag(None, 240)
    sandbox.faults.add(kind="drop_response_after_commit", method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(push.PushChecking) as first:
        do_push(violation, connected, sandbox)
    sandbox.clock.advance(first.value.until.timestamp() - sandbox.clock.now())
    with pytest.raises(RuntimeError, match="our side broke"):
        push.violation_push(violation=violation, connection=connected,
                            client=BrokenSearch(client_for(connected, gate=NoGate())),
                            violation_url=push.absolute_violation_url(violation))
    link = JiraLink.objects.get(violation=violation)
    assert (link.claim, link.claimed_at) == ("", None) and link.state_label == "Checking Jira…"
    result, _ = push_until_settled(violation, connected, sandbox)
    assert not result.created and result.link.issue_key == "ACME-1" and len(creates(sandbox)) == 1


class SearchAnswers:
    """A client whose label search answers the given issues in the given order."""

    def __init__(self, issues):
        self._issues = issues

    def search(self, jql, *, fields, page_size):
        return list(self._issues)


def test_the_label_search_puts_the_oldest_issue_first_whatever_order_jira_answers(violation, connected, sandbox):
    """Two issues carry one label (a duplicate Jira made anyway) and search answers the newer first (ORDER BY
    created ties when both were created in one instant): the oldest, by id, comes first, because the push
    links found[0] and convergence keeps it. Mutation testing: sorting on a key the answer lacks kept
    Jira's order."""
    link = do_push(violation, connected, sandbox).link
    found = push.find_by_label(SearchAnswers([{"id": "10011", "key": "ACME-12"}, {"id": "10009", "key": "ACME-10"}]),
                               link)
    assert [issue["key"] for issue in found] == ["ACME-10", "ACME-12"]


def test_a_link_on_another_jira_site_does_not_make_the_violation_pushed_here(violation, connected, sandbox):
    """The organization pushed this violation to another Jira site before connecting this one: that link is
    history of the other site, and pushing here creates this site's issue (mutation testing: looking up the
    live link without the site returned the other site's key as "already in Jira")."""
    JiraLink.objects.create(organization_id=connected.organization_id, violation=violation, cloud_id="another-site",
                            dedupe_key="another-key", project_key="OLD", created_at=violation.first_detected_at,
                            status=JiraLink.Status.LINKED, issue_key="OLD-1")
    result = do_push(violation, connected, sandbox)
    assert result.created and result.link.issue_key == "ACME-1" and len(creates(sandbox)) == 1


def test_three_creates_slower_than_the_windows_end_the_attempt_until_the_windows_have_passed(violation, connected,
                                                                                            sandbox):
    """Windows of two seconds and a Jira whose creates fail with a 500 after 15 s: each create's search comes
    after its windows, so the protocol allows the next at once; after three the attempt stops and comes back
    the windows later, not at once (mutation testing: `now - windows` went unseen)."""
    from allyproof.core import clock
    from allyproof.integrations.jira.outbound import outcome

    sandbox.faults.add(kind="error", status=500, count=3, method="POST", path=r"/rest/api/3/issue$")
    windows = outcome.Windows(commit=dt.timedelta(seconds=1), search_lag=dt.timedelta(seconds=1))
    with pytest.raises(push.PushChecking) as checking:
        push.violation_push(violation=violation, connection=connected,
                            client=SlowCreates(client_for(connected, gate=NoGate()), sandbox, 15),
                            violation_url=push.absolute_violation_url(violation), windows=windows)
    assert len(creates(sandbox)) == 3
    assert checking.value.until == clock.now() + windows.total()


def test_a_repush_returns_the_live_key_beside_a_deleted_one_even_when_the_rules_now_refuse(violation, connected,
                                                                                          sandbox, rules_for, acme):
    """The violation's first issue was deleted in Jira (its link kept as history), it was pushed again, and the
    site's threshold was raised since: pushing once more returns the live key with no call to Jira, as every
    re-push does (mutation testing: the live-link lookup without its status filter took the deleted link
    and refused the push by the new threshold)."""
    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    JiraLink.objects.create(organization_id=connected.organization_id, violation=violation, cloud_id=connected.cloud_id,
                            dedupe_key=key, project_key="ACME", created_at=violation.first_detected_at,
                            issue_key="ACME-90", status=JiraLink.Status.DELETED)
    first = do_push(violation, connected, sandbox).link
    rules_for(acme, severities=("minor",))
    before = len(sandbox.requests)
    again = do_push(violation, connected, sandbox)
    assert (again.link.pk, again.link.issue_key, again.created) == (first.pk, first.issue_key, False)
    assert len(sandbox.requests) == before


class SlowCreatesBrokenSearch(SlowCreates):
    """Creates come back after 15 s (past the first look) and the label search then fails on our side."""

    def search(self, *args, **kwargs):
        raise RuntimeError("our side broke mid-search")


def test_our_own_failure_during_the_first_look_after_a_timeout_frees_the_reservation(violation, connected, sandbox):
    """A create times out after 15 s, so the same attempt looks at once, and that search fails on our side:
    the error reaches the caller, the claim is released and the reservation stays unsure, as when the create
    itself fails on our side. Before: the claim was kept (the look runs inside `_create`'s except clause, out
    of reach of its own `except Exception`), and every push of the violation was "in progress" for
    JIRA_JOB_STALE_SECONDS."""
    sandbox.faults.add(kind="timeout", method="POST", path=r"/rest/api/3/issue$")
    with pytest.raises(RuntimeError, match="our side broke"):
        push.violation_push(violation=violation, connection=connected,
                            client=SlowCreatesBrokenSearch(client_for(connected, gate=NoGate()), sandbox, 15),
                            violation_url=push.absolute_violation_url(violation))
    link = JiraLink.objects.get(violation=violation)
    assert (link.claim, link.claimed_at) == ("", None) and link.state_label == "Checking Jira…"
