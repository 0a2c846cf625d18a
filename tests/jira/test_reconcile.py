"""Reconciliation applies what lost webhooks would have: Done resolves, deleted frees the link."""

import pytest

from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.inbound import reconcile
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, JiraSyncLog
from allyproof.integrations.jira.tasks import reconcile_all, reconcile_history_daily
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_reopen, violation_resolve
from tests.jira.conftest import NoGate


def push_all(site, connection, rule_ids):
    client = client_for(connection, gate=NoGate())
    for rule_id in rule_ids:
        violation = site.violations.get(rule_id=rule_id)
        push.violation_push(violation=violation, connection=connection, client=client,
                            violation_url=push.absolute_violation_url(violation))


def test_missed_done_and_deleted_issues_are_caught_up(acme, connected, sandbox):
    push_all(acme, connected, ["image-alt", "color-contrast", "label"])  # ACME-1, ACME-2, ACME-3
    sandbox.transition_issue(None, "ACME-1", "Done")   # its webhook never arrived (none registered here)
    sandbox.transition_issue(None, "ACME-3", "In Progress")
    sandbox.delete_issue(None, "ACME-2")
    assert reconcile_all.call_local() == 2
    states = {link.issue_key: (link.status, link.violation.status) for link in JiraLink.objects.select_related("violation")}
    assert states == {"ACME-1": ("linked", "resolved"), "ACME-2": ("deleted", "open"), "ACME-3": ("linked", "open")}
    assert Violation.objects.get(rule_id="image-alt").resolved_source == "jira:ACME-1"


def test_batches_use_one_bounded_search(acme, connected, sandbox):
    push_all(acme, connected, ["image-alt", "color-contrast", "label", "link-name"])
    sandbox.transition_issue(None, "ACME-4", "Done")
    caught = reconcile.reconcile(connection=connected, client=client_for(connected, gate=NoGate()), batch_size=3)
    assert caught.resolved == 1
    searches = [r for r in sandbox.requests if r.path.endswith("/search/jql")]
    assert [s.body["jql"] for s in searches] == ["key IN (ACME-1, ACME-2, ACME-3)", "key IN (ACME-4)"]
    assert all(s.body["fields"] == ["status", "statuscategorychangedate"] for s in searches)


@pytest.mark.parametrize("search_omits_missing_keys", [False, True])
def test_a_deleted_issue_behind_a_person_or_scan_resolution_is_noticed_once_a_day(acme, connected, sandbox, admin_user,
                                                                                  search_omits_missing_keys):
    """Such a link still says "In Jira: KEY" on the violation's page, so it must not outlive its issue."""
    sandbox.cfg.site(connected.cloud_id).search_omits_missing_keys = search_omits_missing_keys
    push_all(acme, connected, ["image-alt", "color-contrast", "label"])  # ACME-1, ACME-2, ACME-3
    by_person = Violation.objects.get(rule_id="image-alt")
    by_scan = Violation.objects.get(rule_id="color-contrast")
    violation_resolve(violation=by_person, by=admin_user)
    violation_resolve(violation=by_scan, source="scan:7")
    sandbox.delete_issue(None, "ACME-1")  # no webhook registered here: the deletion is never delivered
    sandbox.delete_issue(None, "ACME-2")
    sandbox.transition_issue(None, "ACME-3", "Done")
    client = client_for(connected, gate=NoGate())
    assert reconcile.reconcile(connection=connected, client=client).deleted == 0  # the half-hourly run skips them
    assert reconcile_history_daily.call_local() == 2
    states = {link.issue_key: (link.status, link.violation.status, link.violation.resolved_by_id)
              for link in JiraLink.objects.select_related("violation")}
    assert states == {"ACME-1": ("deleted", "resolved", admin_user.pk), "ACME-2": ("deleted", "resolved", None),
                      "ACME-3": ("linked", "resolved", None)}  # each resolution kept as it was
    assert Violation.objects.get(rule_id="color-contrast").resolved_source == "scan:7"
    assert JiraSyncLog.objects.filter(direction="reconcile", code="issue_deleted", violation=by_person,
                                      connection=connected).exists()  # on its page and its connection's
    run = JiraSyncLog.objects.get(code="history_run")
    assert (run.direction, run.connection_id, run.outcome, run.message) == (
        "reconcile", connected.pk, "applied", "checked that 2 issues of resolved violations still exist: 2 deleted in Jira")


def test_the_daily_run_reads_no_status_from_history_links(acme, connected, sandbox, admin_user):
    push_all(acme, connected, ["image-alt", "color-contrast"])
    resolved, still_open = Violation.objects.get(rule_id="image-alt"), Violation.objects.get(rule_id="color-contrast")
    violation_resolve(violation=resolved, by=admin_user)
    sandbox.transition_issue(None, "ACME-1", "To Do")
    sandbox.transition_issue(None, "ACME-2", "Done")  # the open one is the half-hourly run's, not this one's
    asked_before = len(sandbox.requests)
    caught = reconcile.reconcile_history(connection=connected, client=client_for(connected, gate=NoGate()))
    assert (caught.deleted, caught.resolved, caught.reopened) == (0, 0, 0)
    # The search returned ACME-1, so it is not fetched again on its own (one request for the whole run).
    assert [r.path.rsplit("/", 2)[-2:] for r in sandbox.requests[asked_before:]] == [["search", "jql"]]
    run = JiraSyncLog.objects.get(code="history_run")
    assert (run.connection_id, run.outcome, run.message) == (
        connected.pk, "ignored", "checked that 1 issues of resolved violations still exist: 0 deleted in Jira")
    assert {v.rule_id: v.status for v in Violation.objects.filter(pk__in=[resolved.pk, still_open.pk])} == {
        "image-alt": "resolved", "color-contrast": "open"}
    searches = [r.body["jql"] for r in sandbox.requests if r.path.endswith("/search/jql")]
    assert searches == ["key IN (ACME-1)"]  # only the history link was asked about


def test_a_busy_moment_is_retried_and_a_failing_batch_does_not_hold_back_the_others(acme, connected, sandbox):
    import pytest

    from allyproof.integrations.jira.connection.errors import JiraError

    push_all(acme, connected, ["image-alt", "color-contrast", "label", "link-name"])
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.transition_issue(None, "ACME-4", "Done")
    waits: list[float] = []
    client = client_for(connected, gate=NoGate())
    sandbox.faults.add(method="POST", path=r"/search/jql$", kind="error", status=503, count=1)
    caught = reconcile.reconcile(connection=connected, client=client, batch_size=3, sleep=waits.append)
    assert caught.resolved == 2 and waits == [1.0]  # the first search failed once and was asked again
    sandbox.clock.advance(60)
    sandbox.transition_issue(None, "ACME-2", "Done")     # batch 1
    sandbox.transition_issue(None, "ACME-4", "To Do")    # batch 2
    sandbox.faults.add(method="POST", path=r"/search/jql$", kind="error", status=503, count=3)  # batch 1, 3 tries
    with pytest.raises(JiraError):
        reconcile.reconcile(connection=connected, client=client, batch_size=3, sleep=waits.append)
    assert waits == [1.0, 1.0, 3.0]
    assert Violation.objects.get(rule_id="link-name").status == "open"  # batch 2 (ACME-4) still applied
    assert Violation.objects.get(rule_id="color-contrast").status == "open"  # batch 1 waits for the next pass


def test_every_lost_deletion_is_counted_and_logged_on_its_connection(acme, connected, sandbox):
    """Two issues deleted and one moved to Done while no webhook could arrive. The search naming a deleted
    key is refused, so each key is fetched on its own. Both deletions are counted in the run's summary,
    and each change has its own line on the connection's sync log (mutation testing: `deleted = 1`, lines
    without their connection, key, outcome or text)."""
    from allyproof.integrations.jira.models import JiraSyncLog

    push_all(acme, connected, ["image-alt", "color-contrast", "label"])  # ACME-1, ACME-2, ACME-3
    sandbox.delete_issue(None, "ACME-1")
    sandbox.transition_issue(None, "ACME-2", "Done")
    sandbox.delete_issue(None, "ACME-3")
    caught = reconcile.reconcile(connection=connected, client=client_for(connected, gate=NoGate()))
    assert (caught.deleted, caught.resolved, caught.reopened, caught.ignored) == (2, 1, 0, 0)
    lines = JiraSyncLog.objects.filter(direction="reconcile").exclude(code="run").order_by("pk")
    assert [(line.connection_id, line.outcome, line.code, line.issue_key, line.violation.rule_id) for line in lines] == [
        (connected.pk, "applied", "issue_deleted", "ACME-1", "image-alt"),
        (connected.pk, "applied", "entered_done", "ACME-2", "color-contrast"),
        (connected.pk, "applied", "issue_deleted", "ACME-3", "label")]
    assert lines[0].message == "ACME-1 no longer exists in Jira; the violation can be pushed again"
    run = JiraSyncLog.objects.get(direction="reconcile", code="run")
    assert (run.connection_id, run.outcome) == (connected.pk, "applied")
    assert run.message == "checked 3 linked issues: 1 resolved, 0 reopened, 2 deleted in Jira, 0 unchanged"


def test_reconciliation_watches_open_and_jira_resolved_links_of_its_own_connection_only(acme, connected, owner,
                                                                                         other_org):
    """Which links a run asks Jira about (mutation testing of `_watched_links`): open violations and
    violations Jira resolved; not those a person or a scan resolved, not deleted links, not another
    organization's or another site's links."""
    from allyproof.core import clock

    violations = list(acme.violations.order_by("rule_id")[:7])
    assert len(violations) == 7
    states = [  # (violation fields, link fields)
        ({}, {}),                                                                          # open: watched
        (dict(status="resolved", resolved_source="jira:ACME-2"), {}),                      # Jira resolved: watched
        (dict(status="resolved", resolved_source="jira:ACME-3", resolved_by=owner), {}),   # a person: not
        (dict(status="resolved", resolved_source="scan:9"), {}),                           # a scan: not
        ({}, dict(status=JiraLink.Status.DELETED)),
        ({}, dict(organization_id=other_org.pk)),
        ({}, dict(cloud_id="another-site")),
    ]
    for n, (violation, (violation_fields, link_fields)) in enumerate(zip(violations, states, strict=True), start=1):
        Violation.objects.filter(pk=violation.pk).update(**violation_fields)
        JiraLink.objects.create(**{**dict(organization_id=connected.organization_id, violation=violation,
                                          cloud_id=connected.cloud_id, dedupe_key=f"k{n}", project_key="ACME",
                                          issue_key=f"ACME-{n}", issue_id=str(10000 + n),
                                          status=JiraLink.Status.LINKED, created_at=clock.now()), **link_fields})
    assert [link.issue_key for link in reconcile._watched_links(connected)] == ["ACME-1", "ACME-2"]


def test_a_run_counts_each_decision_and_logs_it_on_its_connection(acme, connected, sandbox, same_clock, owner):
    """Resolved, reopened and unchanged, each counted (the run's summary says so) and each change or stale
    Done on its own line of the connection's log; every issue the search returned is read from the search
    alone (mutation testing of `reconcile` and `_apply`: counters, outcomes, the search's keys unread). Two
    of each kind, so a counter set to 1 instead of counted shows."""
    push_all(acme, connected, ["image-alt", "color-contrast", "label", "link-name"])  # ACME-1 … ACME-4
    client = client_for(connected, gate=NoGate())
    for key in ("ACME-1", "ACME-2", "ACME-3"):
        sandbox.transition_issue(None, key, "Done")
    same_clock.advance(10)
    reopened_by_a_person = Violation.objects.get(rule_id="label")
    violation_reopen(violation=violation_resolve(violation=reopened_by_a_person, by=owner))  # after ACME-3's Done
    same_clock.advance(10)

    def run():
        asked_before = len(sandbox.requests)
        caught = reconcile.reconcile(connection=connected, client=client)
        assert [r.path.rsplit("/", 2)[-2:] for r in sandbox.requests[asked_before:]] == [["search", "jql"]]
        lines = JiraSyncLog.objects.filter(direction="reconcile").order_by("pk")  # the run's summary comes last
        found = [(line.connection_id, line.outcome, line.code, line.issue_key, line.message) for line in lines]
        JiraSyncLog.objects.all().delete()
        return caught, sorted(found[:-1], key=lambda line: line[3]) + found[-1:]  # in the search's order

    stale = (connected.pk, "ignored", "done_before_reopen", "ACME-3", "ignored: Done older than reopen (ACME-3)")
    caught, lines = run()
    assert (caught.resolved, caught.reopened, caught.deleted, caught.ignored) == (2, 0, 0, 2)
    assert lines == [
        (connected.pk, "applied", "entered_done", "ACME-1", "resolved: the issue entered Done (ACME-1)"),
        (connected.pk, "applied", "entered_done", "ACME-2", "resolved: the issue entered Done (ACME-2)"), stale,
        (connected.pk, "applied", "run", "", "checked 4 linked issues: 2 resolved, 0 reopened, 0 deleted in Jira, "
                                             "2 unchanged")]
    for key in ("ACME-1", "ACME-2"):
        sandbox.transition_issue(None, key, "To Do")  # their webhooks never arrived
    same_clock.advance(10)
    caught, lines = run()
    assert (caught.resolved, caught.reopened, caught.deleted, caught.ignored) == (0, 2, 0, 2)
    left = "reopened: the issue left Done, so Jira's resolution no longer holds"
    assert lines == [(connected.pk, "applied", "left_done", "ACME-1", f"{left} (ACME-1)"),
                     (connected.pk, "applied", "left_done", "ACME-2", f"{left} (ACME-2)"), stale,
                     (connected.pk, "applied", "run", "", "checked 4 linked issues: 0 resolved, 2 reopened, "
                                                          "0 deleted in Jira, 2 unchanged")]
    assert Violation.objects.get(rule_id="image-alt").status == Violation.Status.OPEN


def test_an_issue_fetched_on_its_own_is_retried_with_the_runs_own_wait(acme, connected, sandbox):
    """A key the search left out is fetched alone, and a busy moment there waits through the sleep the
    run was given, like the search's retries."""
    sandbox.cfg.site(connected.cloud_id).search_omits_missing_keys = True
    push_all(acme, connected, ["image-alt", "color-contrast"])  # ACME-1, ACME-2
    sandbox.delete_issue(None, "ACME-1")
    sandbox.faults.add(method="GET", path=r"/issue/ACME-1$", kind="error", status=503, count=1)
    waits: list[float] = []
    caught = reconcile.reconcile(connection=connected, client=client_for(connected, gate=NoGate()), sleep=waits.append)
    assert (caught.deleted, waits) == (1, [1.0])
    assert JiraLink.objects.get(issue_key="ACME-1").status == JiraLink.Status.DELETED


def test_the_runs_summary_is_applied_when_anything_changed_and_ignored_otherwise(acme, connected, sandbox, same_clock):
    """One resolve with one deletion, one resolve with one reopen: a sum that subtracts one of them would
    call those runs unchanged."""
    push_all(acme, connected, ["image-alt", "color-contrast", "label"])  # ACME-1 … ACME-3
    client = client_for(connected, gate=NoGate())

    def summary():
        reconcile.reconcile(connection=connected, client=client)
        run = JiraSyncLog.objects.filter(code="run").order_by("pk").last()
        return run.outcome, run.message.split(": ", 1)[1]

    assert summary() == ("ignored", "0 resolved, 0 reopened, 0 deleted in Jira, 3 unchanged")
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.delete_issue(None, "ACME-3")
    same_clock.advance(10)
    assert summary() == ("applied", "1 resolved, 0 reopened, 1 deleted in Jira, 1 unchanged")
    sandbox.transition_issue(None, "ACME-1", "To Do")
    sandbox.transition_issue(None, "ACME-2", "Done")
    same_clock.advance(10)
    assert summary() == ("applied", "1 resolved, 1 reopened, 0 deleted in Jira, 0 unchanged")
