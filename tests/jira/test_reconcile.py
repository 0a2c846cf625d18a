"""Reconciliation applies what lost webhooks would have: Done resolves, deleted frees the link."""

import pytest

from allyproof.integrations.jira import push, reconcile
from allyproof.integrations.jira.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, JiraSyncLog
from allyproof.integrations.jira.tasks import reconcile_all, reconcile_history_daily
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_resolve
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
    assert JiraSyncLog.objects.filter(code="issue_deleted", violation=by_person).exists()  # on its page
    assert JiraSyncLog.objects.filter(code="history_run", message__contains="2 deleted").exists()


def test_the_daily_run_reads_no_status_from_history_links(acme, connected, sandbox, admin_user):
    push_all(acme, connected, ["image-alt", "color-contrast"])
    resolved, still_open = Violation.objects.get(rule_id="image-alt"), Violation.objects.get(rule_id="color-contrast")
    violation_resolve(violation=resolved, by=admin_user)
    sandbox.transition_issue(None, "ACME-1", "To Do")
    sandbox.transition_issue(None, "ACME-2", "Done")  # the open one is the half-hourly run's, not this one's
    caught = reconcile.reconcile_history(connection=connected, client=client_for(connected, gate=NoGate()))
    assert (caught.deleted, caught.resolved, caught.reopened) == (0, 0, 0)
    assert {v.rule_id: v.status for v in Violation.objects.filter(pk__in=[resolved.pk, still_open.pk])} == {
        "image-alt": "resolved", "color-contrast": "open"}
    searches = [r.body["jql"] for r in sandbox.requests if r.path.endswith("/search/jql")]
    assert searches == ["key IN (ACME-1)"]  # only the history link was asked about


def test_a_busy_moment_is_retried_and_a_failing_batch_does_not_hold_back_the_others(acme, connected, sandbox):
    import pytest

    from allyproof.integrations.jira.errors import JiraError

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
