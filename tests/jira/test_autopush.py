"""Auto-push when a scan completes: forward-only, same gates, idempotent; and "detected again"."""

import datetime as dt
import json

import pytest

from allyproof.core import clock
from allyproof.integrations.jira.outbound import autopush
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import InboundEvent, OutboundWrite, PushJob, SiteSyncRule
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_resolve
from tests import factories
from tests.jira.conftest import NoGate, deliver_into

T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


def rescan(site, *, at, events):
    """Ingests the fixture's re-scan and returns what the scan-completed event carried."""
    seen = []
    from allyproof.monitoring import events as monitoring_events

    monitoring_events.subscribe(seen.append)
    try:
        with events(execute=True):
            factories.ingest(site, factories.axe_fixture("multi_page__rescan.json"), scanned_at=at)
    finally:
        monitoring_events.unsubscribe(seen.append)
    return seen[-1]


def run_scan_completed(event, enqueue=None):
    """The test runs the auto job itself (enqueue None) unless it asks to see what the worker is handed."""
    return autopush.scan_completed(site_id=event.site_id, new_violation_ids=list(event.new_violation_ids),
                                   reopened_violation_ids=list(event.reopened_violation_ids),
                                   client_for=lambda c: client_for(c, gate=NoGate()), enqueue=enqueue)


@pytest.fixture
def scanned(site, rules_for, connected):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"), scanned_at=T0)
    return site


def test_auto_push_is_forward_only_and_keeps_to_the_rules(scanned, rules_for, sandbox, django_capture_on_commit_callbacks):
    rules_for(scanned, severities=("critical", "serious"), auto_push=True)
    since = SiteSyncRule.objects.get(site=scanned).auto_push_since
    event = rescan(scanned, at=since + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    new = Violation.objects.filter(pk__in=event.new_violation_ids)
    assert [v.rule_id for v in new] == ["aria-hidden-focus"]  # the fixture's one new rule, serious
    handed = []
    with django_capture_on_commit_callbacks(execute=True):
        job = run_scan_completed(event, enqueue=handed.append)
    assert job.kind == PushJob.Kind.AUTO
    assert handed == [job.pk]  # the auto job goes to the worker once the follow-up's transaction commits
    assert list(job.items.values_list("violation__rule_id", flat=True)) == ["aria-hidden-focus"]  # no backlog
    jobs.push_job_run(job_id=job.pk, client_for=lambda c: client_for(c, gate=NoGate()),
                      violation_url=push.absolute_violation_url, gate=NoGate())
    assert len(sandbox.issues(None)) == 1


def test_off_means_nothing_is_pushed(scanned, rules_for, sandbox, django_capture_on_commit_callbacks):
    rules_for(scanned, auto_push=False)
    event = rescan(scanned, at=clock.now(), events=django_capture_on_commit_callbacks)
    assert run_scan_completed(event) is None and not PushJob.objects.exists()


def test_severity_gate_applies_to_auto_push(scanned, rules_for, sandbox, django_capture_on_commit_callbacks):
    rules_for(scanned, severities=("critical",), auto_push=True)
    event = rescan(scanned, at=clock.now() + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    assert run_scan_completed(event) is None  # the only new violation is serious


def test_a_required_field_pauses_auto_push_with_the_reason(scanned, rules_for, sandbox, client,
                                                         django_capture_on_commit_callbacks):
    rules_for(scanned, auto_push=True)
    sandbox.set_required_field(None, "ACME", "Bug", "customfield_10050", "Customer", has_default=False)
    event = rescan(scanned, at=clock.now() + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    assert run_scan_completed(event) is None
    problems = SiteSyncRule.objects.get(site=scanned).problems
    assert problems and "customfield_10050" in problems[0]
    page = client.get("/settings/integrations/").content.decode()
    assert "Auto-push paused: Jira requires Customer (customfield_10050)" in page
    assert not [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/issue")]


def test_a_regression_is_commented_on_its_issue_and_the_echo_does_not_resolve_it(
        scanned, rules_for, sandbox, connected, client, django_capture_on_commit_callbacks):
    from allyproof.integrations.jira.connection import webhooks

    rules_for(scanned)
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    violation = scanned.violations.get(rule_id="color-contrast")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    sandbox.webhook_sender = deliver_into(client)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    violation.refresh_from_db()
    assert violation.status == Violation.Status.RESOLVED
    event = rescan(scanned, at=clock.now(), events=django_capture_on_commit_callbacks)  # found again
    assert violation.pk in event.reopened_violation_ids
    run_scan_completed(event)
    comment = OutboundWrite.objects.get(kind="comment")
    issue = sandbox.get_issue(None, "ACME-1")
    assert issue["fields"]["status"]["statusCategory"]["key"] == "done"  # Jira left as it is
    sandbox.deliver_pending()  # the comment's jira:issue_updated on a Done issue
    violation.refresh_from_db()
    assert violation.status == Violation.Status.OPEN  # reopened, and not resolved again by our echo
    last = InboundEvent.objects.order_by("pk").last()
    assert (last.outcome, last.issue_key) == ("echo", "ACME-1") and comment.jira_id
    assert json.dumps(sandbox.conformance.failures) == "[]"


def test_resolved_violations_without_a_link_get_no_comment(scanned, rules_for, sandbox, owner,
                                                         django_capture_on_commit_callbacks):
    rules_for(scanned)
    violation_resolve(violation=scanned.violations.get(rule_id="color-contrast"), by=owner)
    event = rescan(scanned, at=clock.now(), events=django_capture_on_commit_callbacks)
    run_scan_completed(event)
    assert not OutboundWrite.objects.filter(kind="comment").exists()


def test_jira_busy_at_the_project_check_leaves_the_follow_up_to_run_again(
        scanned, rules_for, sandbox, django_capture_on_commit_callbacks):
    """A 429 (or a 5xx, a timeout) while checking the project says nothing about the project: the scan's
    new violations must still be auto-pushed when the follow-up runs again, and no pause is recorded."""
    from allyproof.integrations.jira.outbound import scan_followup
    from allyproof.integrations.jira.models import ScanFollowUp

    rules_for(scanned, auto_push=True)
    since = SiteSyncRule.objects.get(site=scanned).auto_push_since
    event = rescan(scanned, at=since + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    row = ScanFollowUp.objects.get(scan_id=event.scan_id)
    sandbox.faults.add(method="GET", path=r"/project/ACME$", kind="rate_limit", reason="jira-burst-based",
                       retry_after=1)

    def run():
        return scan_followup.scan_followup_run(followup_id=row.pk, client_for=lambda c: client_for(c, gate=NoGate()),
                                               enqueue=None)

    assert run() is False
    row.refresh_from_db()
    assert row.status == ScanFollowUp.Status.PENDING and "rate limiting" in row.last_error
    assert SiteSyncRule.objects.get(site=scanned).problems == [] and not PushJob.objects.exists()
    assert run() is True
    job = PushJob.objects.get(kind=PushJob.Kind.AUTO)
    assert list(job.items.values_list("violation__rule_id", flat=True)) == ["aria-hidden-focus"]


def test_detected_again_comments_only_on_the_reopened_violations_live_links_on_this_site(acme, connected, sandbox):
    """Mutation testing of `autopush.detected_again`: not a violation that was not reopened, not a deleted
    link, not a link on another Jira site; the count is the comments written."""
    from allyproof.core import clock
    from allyproof.integrations.jira.outbound import autopush
    from allyproof.integrations.jira.outbound import push
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.models import JiraLink, OutboundWrite
    from tests.jira.conftest import NoGate

    client = client_for(connected, gate=NoGate())
    reopened, deleted, not_reopened, elsewhere, also_reopened = list(acme.violations.order_by("rule_id")[:5])
    for violation in (reopened, deleted, not_reopened, also_reopened):  # ACME-1, ACME-2, ACME-3, ACME-4
        push.violation_push(violation=violation, connection=connected, client=client,
                            violation_url=push.absolute_violation_url(violation))
    JiraLink.objects.filter(violation=deleted).update(status=JiraLink.Status.DELETED)
    JiraLink.objects.create(organization_id=connected.organization_id, violation=elsewhere, cloud_id="another-site",
                            dedupe_key="elsewhere", project_key="ACME", issue_key="ACME-3", issue_id="1",
                            status=JiraLink.Status.LINKED, created_at=clock.now())
    count = autopush.detected_again(reopened_violation_ids=[reopened.pk, deleted.pk, elsewhere.pk, also_reopened.pk],
                                    connection=connected, client=client)
    assert count == 2
    assert sorted(OutboundWrite.objects.filter(kind="comment").values_list("issue_key", flat=True)) == ["ACME-1",
                                                                                                       "ACME-4"]


def test_detected_again_goes_on_past_a_comment_jira_refuses(acme, connected, sandbox):
    """The first issue was deleted in Jira (its webhook not in yet): that comment fails, the next one is
    still written (mutation testing: `break` for `continue` left every later issue without its comment)."""
    from allyproof.integrations.jira.models import JiraLink

    client = client_for(connected, gate=NoGate())
    gone, kept = list(acme.violations.order_by("rule_id")[:2])
    for violation in (gone, kept):  # ACME-1, ACME-2, linked in this order
        push.violation_push(violation=violation, connection=connected, client=client,
                            violation_url=push.absolute_violation_url(violation))
    sandbox.delete_issue(connected.cloud_id, JiraLink.objects.get(violation=gone).issue_key)
    count = autopush.detected_again(reopened_violation_ids=[gone.pk, kept.pk], connection=connected, client=client)
    assert count == 1
    assert list(OutboundWrite.objects.filter(kind="comment").values_list("issue_key", flat=True)) == [
        JiraLink.objects.get(violation=kept).issue_key]


def test_auto_push_offers_only_this_scans_new_violations_of_this_site_found_since_it_was_switched_on(
        scanned, rules_for, sandbox, org, connected):
    """The scan hands over its new violations: of the ids given, only this site's, first found since auto-push
    went on, become the job (mutation testing: dropping any one of the three filters went unseen)."""
    rules_for(scanned, auto_push=True)
    old, new, not_given = list(scanned.violations.order_by("pk")[:3])
    Violation.objects.filter(pk__in=[new.pk, not_given.pk]).update(first_detected_at=clock.now() + dt.timedelta(hours=1))
    elsewhere = factories.site(org, name="Other", base_url="https://other.example/")
    factories.ingest(elsewhere, factories.axe_fixture("multi_page__site.json"),
                     scanned_at=clock.now() + dt.timedelta(hours=1))
    theirs = elsewhere.violations.first()
    job = autopush.auto_push(site_id=scanned.pk, new_violation_ids=[old.pk, new.pk, theirs.pk],
                             connection=connected, client=client_for(connected, gate=NoGate()), enqueue=None)
    assert list(job.items.values_list("violation_id", flat=True)) == [new.pk]


def test_auto_push_off_pushes_nothing_even_from_a_rule_that_still_carries_its_since(
        scanned, rules_for, sandbox, django_capture_on_commit_callbacks):
    """Off means off, whatever else the row says: saving the rules clears `auto_push_since` when auto-push goes
    off, but a row written otherwise (an older version, a hand edit in the database) may keep it, and the guard
    is the last word (mutation testing: `and` for either `or` of the guard let such a rule through)."""
    rules_for(scanned, auto_push=True)
    SiteSyncRule.objects.filter(site=scanned).update(auto_push=False)
    event = rescan(scanned, at=clock.now() + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    assert event.new_violation_ids
    assert run_scan_completed(event) is None and not PushJob.objects.exists()


def test_auto_push_keeps_the_issue_type_the_rule_chose(scanned, rules_for, sandbox, django_capture_on_commit_callbacks):
    """The project is checked for the rule's own issue type, Task here, not Jira's preferred one (mutation
    testing: checking with no type switched the rule to Bug)."""
    rules_for(scanned, auto_push=True, issue_type="Task")
    event = rescan(scanned, at=clock.now() + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    assert run_scan_completed(event) is not None
    assert SiteSyncRule.objects.get(site=scanned).issue_type_name == "Task"


def test_a_project_jira_no_longer_finds_pauses_auto_push_with_the_reason(scanned, rules_for, sandbox,
                                                                        django_capture_on_commit_callbacks):
    """The project is gone (a 404 at the check): not a busy Jira, so auto-push is paused on the rule with the
    reason, and nothing is queued (mutation testing: that branch had no test; `check = None` crashed)."""
    rules_for(scanned, auto_push=True)
    event = rescan(scanned, at=clock.now() + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    sandbox.faults.add(method="GET", path=r"/project/ACME$", kind="error", status=404)
    assert run_scan_completed(event) is None and not PushJob.objects.exists()
    (problem,) = SiteSyncRule.objects.get(site=scanned).problems
    assert problem.startswith("Auto-push paused: Could not check ACME in Jira:")


def test_a_scan_while_jira_needs_reconnecting_or_is_disconnected_calls_nothing(scanned, rules_for, sandbox, connected,
                                                                              django_capture_on_commit_callbacks):
    """The connection needs reconnecting, then is disconnected: a scan's reopened violations get no comment and
    nothing is queued (mutation testing: `and` for `or` in the connection check crashed on no connection)."""
    from allyproof.integrations.jira.models import JiraConnection

    rules_for(scanned, auto_push=True)
    violation = scanned.violations.get(rule_id="color-contrast")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    before = len(sandbox.requests)
    for status in (JiraConnection.Status.NEEDS_RECONNECT, JiraConnection.Status.DISCONNECTED):
        JiraConnection.objects.filter(pk=connected.pk).update(status=status)
        assert autopush.scan_completed(site_id=scanned.pk, new_violation_ids=[], reopened_violation_ids=[violation.pk],
                                       client_for=lambda c: client_for(c, gate=NoGate()), enqueue=None) is None
    assert len(sandbox.requests) == before and not PushJob.objects.exists()


def test_a_passing_project_check_clears_the_pause_and_stores_the_issue_type(scanned, rules_for, sandbox,
                                                                           django_capture_on_commit_callbacks):
    """Auto-push was paused (a problem on the rule) and the rule had no issue type id (saved while the project
    could not be checked): once the check passes, the pause is gone and the checked type is stored (mutation
    testing: keeping the problem, or storing no id, no name or nothing went unseen)."""
    rule = rules_for(scanned, auto_push=True)
    type_id, type_name = rule.issue_type_id, rule.issue_type_name
    assert type_id and type_name
    SiteSyncRule.objects.filter(pk=rule.pk).update(problems=["Auto-push paused: it was"], issue_type_id="",
                                                   issue_type_name="")
    event = rescan(scanned, at=clock.now() + dt.timedelta(hours=1), events=django_capture_on_commit_callbacks)
    assert run_scan_completed(event) is not None
    rule.refresh_from_db()
    assert (rule.problems, rule.issue_type_id, rule.issue_type_name) == ([], type_id, type_name)
