"""Reconciliation applies what lost webhooks would have: Done resolves, deleted frees the link."""

from allyproof.integrations.jira import push, reconcile
from allyproof.integrations.jira.gateway import client_for
from allyproof.integrations.jira.models import JiraLink
from allyproof.integrations.jira.tasks import reconcile_all
from allyproof.monitoring.models import Violation
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
