"""Issue 9's cases, end to end in-process (the sandbox's signed deliveries into the real receiver,
reconciliation and scan follow-ups through the real services). The served-sandbox, real-worker versions
live in test_sync_back_served.py."""

import datetime as dt
import json

import pytest

from allyproof.core import clock
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.inbound import reconcile
from allyproof.integrations.jira.outbound import scan_followup
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import (
    DetectedAgainComment,
    InboundEvent,
    JiraLink,
    JiraSyncLog,
    OutboundWrite,
    ScanFollowUp,
    SiteSyncRule,
)
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_reopen, violation_resolve
from tests import factories
from tests.jira.conftest import NoGate, deliver_into


@pytest.fixture
def linked(acme, connected, sandbox, client, same_clock):
    """color-contrast pushed as ACME-1, the webhook registered, deliveries routed into AllyProof."""
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    violation = acme.violations.get(rule_id="color-contrast")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    sandbox.webhook_sender = route_into(client)
    connected.refresh_from_db()
    same_clock.advance(1)
    return violation


def route_into(client):
    return deliver_into(client)


def status(violation):
    violation.refresh_from_db()
    return violation.status


def rescan(site, capture):
    """A scan that finds everything again; returns its follow-up row (written after commit)."""
    with capture(execute=True):
        scan = factories.ingest(site, factories.axe_fixture("multi_page__site.json"), scanned_at=clock.now())
    return ScanFollowUp.objects.get(scan_id=scan.pk)


def follow_up(row):
    return scan_followup.scan_followup_run(followup_id=row.pk, enqueue=None,
                                           client_for=lambda c: client_for(c, gate=NoGate()))


def run_reconcile(connection):
    return reconcile.reconcile(connection=connection, client=client_for(connection, gate=NoGate()))


def codes(violation):
    return list(JiraSyncLog.objects.filter(violation=violation).order_by("pk").values_list("code", flat=True))


# 1. Regressions stay visible ----------------------------------------------------------------------

def test_case1_a_regression_stays_open_through_reconciliation_and_comments_once(
        linked, sandbox, connected, same_clock, django_capture_on_commit_callbacks):
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    assert status(linked) == Violation.Status.RESOLVED
    same_clock.advance(60)
    row = rescan(linked.site, django_capture_on_commit_callbacks)
    assert status(linked) == Violation.Status.OPEN and linked.pk in row.reopened_violation_ids
    assert follow_up(row) is True
    assert follow_up(row) is False  # done already: a second run comments nothing
    sandbox.deliver_pending()  # the echo of our comment on a still-Done issue
    same_clock.advance(1800)
    caught = run_reconcile(connected)
    assert (caught.resolved, status(linked)) == (0, Violation.Status.OPEN)
    assert "done_before_reopen" in codes(linked)
    same_clock.advance(60)
    follow_up(rescan(linked.site, django_capture_on_commit_callbacks))  # still open: not reopened, no comment
    comments = sandbox.get_issue(None, "ACME-1")["fields"]["comment"]["comments"]
    assert len(comments) == 1 and DetectedAgainComment.objects.count() == 1
    # A person finishes the work again: a Done after the reopen resolves it.
    sandbox.transition_issue(None, "ACME-1", "In Progress")
    same_clock.advance(5)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    assert status(linked) == Violation.Status.RESOLVED


def test_case1_reopen_policy_moves_the_issue_back_to_to_do_and_its_echo_changes_nothing(
        linked, sandbox, connected, same_clock, django_capture_on_commit_callbacks):
    SiteSyncRule.objects.filter(site=linked.site).update(regression_policy="reopen")
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    same_clock.advance(60)
    follow_up(rescan(linked.site, django_capture_on_commit_callbacks))
    issue = sandbox.get_issue(None, "ACME-1")
    assert issue["fields"]["status"]["statusCategory"]["key"] == "new"
    assert OutboundWrite.objects.filter(kind="transition", issue_key="ACME-1").count() == 1
    sandbox.deliver_pending()
    run_reconcile(connected)
    assert status(linked) == Violation.Status.OPEN
    line = JiraSyncLog.objects.get(code="detected_again")
    assert "moved ACME-1 to To Do" in line.message and line.violation_id == linked.pk
    same_clock.advance(5)
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    assert status(linked) == Violation.Status.RESOLVED


# 2. A stale Done never resolves -------------------------------------------------------------------

@pytest.mark.parametrize("first_arrives", [True, False])
def test_case2_a_late_done_under_a_new_identifier_is_ignored_with_the_reason(
        linked, sandbox, connected, same_clock, django_capture_on_commit_callbacks, first_arrives):
    sandbox.faults.add_delivery(kind="redeliver", seconds=900)
    if not first_arrives:
        sandbox.faults.add_delivery(kind="drop")  # only the late copy ever arrives
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    assert status(linked) == (Violation.Status.RESOLVED if first_arrives else Violation.Status.OPEN)
    same_clock.advance(60)
    follow_up(rescan(linked.site, django_capture_on_commit_callbacks))
    sandbox.transition_issue(None, "ACME-1", "To Do")  # a person agrees: not done
    same_clock.advance(900)
    sandbox.deliver_pending()  # the Done again, late, after the reopen
    assert status(linked) == Violation.Status.OPEN
    # The same change again is a duplicate (answered at intake); the late copy alone is older than what
    # was applied since (decided by the worker). Intake's line and the worker's may come in either order.
    lines = JiraSyncLog.objects.filter(violation=linked, direction="inbound").order_by("pk")
    late = lines.exclude(code="not_done").last()
    assert late.code == ("duplicate" if first_arrives else "stale")
    assert late.message.startswith("ignored")
    run_reconcile(connected)
    assert status(linked) == Violation.Status.OPEN


def test_case2_a_person_reopening_in_allyproof_outranks_an_older_done(linked, sandbox, connected, same_clock, owner):
    sandbox.faults.add_delivery(kind="delay", seconds=300)
    sandbox.transition_issue(None, "ACME-1", "Done")
    same_clock.advance(10)
    violation_resolve(violation=linked, by=owner)
    same_clock.advance(10)
    violation_reopen(violation=linked)
    same_clock.advance(300)
    sandbox.deliver_pending()
    assert status(linked) == Violation.Status.OPEN
    assert codes(linked)[-1] == "done_before_reopen"


# 3. No change doubled or dropped ------------------------------------------------------------------

def test_case3_two_changes_in_one_millisecond_both_apply(linked, sandbox):
    with sandbox.same_millisecond():
        sandbox.edit_issue(None, "ACME-1", summary="Renamed by a person")
        sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    events = list(InboundEvent.objects.order_by("pk").values_list("timestamp", "outcome"))
    assert len(events) == 2 and events[0][0] == events[1][0]
    assert status(linked) == Violation.Status.RESOLVED


def test_case3_another_sites_delivery_with_the_same_issue_id_and_time_masks_nothing(linked, sandbox, client, connected):
    bodies = []
    send = sandbox.webhook_sender
    sandbox.webhook_sender = lambda url, headers, body: bodies.append((url, headers, body)) or 200
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    url, headers, body = bodies[0]
    foreign = json.loads(body)
    foreign["issue"]["self"] = foreign["issue"]["self"].replace("demo-agency", "another-agency")
    assert send(url, {**headers, "X-Atlassian-Webhook-Identifier": "foreign"}, json.dumps(foreign).encode()) == 200
    assert send(url, headers, body) == 202
    assert status(linked) == Violation.Status.RESOLVED
    assert list(InboundEvent.objects.order_by("pk").values_list("outcome", flat=True)) == ["unmatched", "applied"]


def test_case3_two_comments_in_one_millisecond_are_two_changes(linked, sandbox):
    """No changelog tells them apart, only the comment ids: neither may be taken for the other's replay."""
    with sandbox.same_millisecond():
        first = sandbox.add_comment(None, "ACME-1", "Fixed the contrast on the booking page")
        second = sandbox.add_comment(None, "ACME-1", "And on the footer")
    sandbox.deliver_pending()
    events = InboundEvent.objects.filter(event="jira:issue_updated").order_by("pk")
    assert len({e.timestamp for e in events}) == 1
    assert [e.dedupe_key.rsplit(":", 1)[-1] for e in events] == [first["id"], second["id"]]
    assert not JiraSyncLog.objects.filter(code="duplicate").exists()


def test_case3_two_issues_deleted_in_one_millisecond_both_free_their_violations(linked, sandbox, connected):
    """A deletion carries neither changelog nor comment: only the issue tells two of them apart."""
    other = linked.site.violations.get(rule_id="image-alt")
    push.violation_push(violation=other, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(other))  # ACME-2
    with sandbox.same_millisecond():
        sandbox.delete_issue(None, "ACME-1")
        sandbox.delete_issue(None, "ACME-2")
    sandbox.deliver_pending()
    assert list(JiraLink.objects.filter(violation__in=[linked, other]).values_list("status", flat=True)) == [
        JiraLink.Status.DELETED, JiraLink.Status.DELETED]
    assert not JiraSyncLog.objects.filter(code="duplicate").exists()


# 6. Deletions noticed -----------------------------------------------------------------------------

@pytest.mark.parametrize("search_omits_missing_keys", [False, True])
def test_case6_a_deletion_whose_delivery_was_lost_is_noticed(linked, sandbox, connected, search_omits_missing_keys):
    sandbox.cfg.site(connected.cloud_id).search_omits_missing_keys = search_omits_missing_keys
    other = linked.site.violations.get(rule_id="image-alt")
    push.violation_push(violation=other, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(other))  # ACME-2
    sandbox.faults.add_delivery(kind="drop")
    sandbox.delete_issue(None, "ACME-1")
    sandbox.deliver_pending()
    assert JiraLink.objects.get(violation=linked).status == JiraLink.Status.LINKED  # nothing arrived
    caught = run_reconcile(connected)
    assert caught.deleted == 1
    link = JiraLink.objects.get(violation=linked)
    assert link.status == JiraLink.Status.DELETED and link.deleted_at  # kept as history
    assert JiraLink.objects.get(violation=other).status == JiraLink.Status.LINKED
    assert "issue_deleted" in codes(linked)
    fetched = [r.path for r in sandbox.requests if r.method == "GET" and r.path.endswith("/issue/ACME-1")]
    assert fetched  # the missing key was asked about on its own


# 8. Traces of everything --------------------------------------------------------------------------

def test_case8_a_handler_failure_keeps_its_delivery_and_the_next_run_applies_it(linked, sandbox, connected, client):
    def broken(connection, event, link):
        raise RuntimeError("the database went away")

    sandbox.webhook_sender = deliver_into(client, apply=False)  # received, not yet applied
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    assert inbound_apply.pending_apply(handlers={"jira:issue_updated": broken}) == 0
    record = InboundEvent.objects.get()
    assert record.outcome == "received" and "RuntimeError" in record.detail  # kept for the next run
    assert JiraSyncLog.objects.filter(code="handler_error", violation=linked).exists()
    assert status(linked) == Violation.Status.OPEN
    assert inbound_apply.pending_apply() == 1
    assert InboundEvent.objects.get().outcome == "applied"
    assert status(linked) == Violation.Status.RESOLVED


def test_case8_the_violation_page_shows_every_exchange(linked, sandbox, client, same_clock):
    sandbox.transition_issue(None, "ACME-1", "In Progress")
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    page = client.get(f"/sites/{linked.site_id}/violations/{linked.pk}/").content.decode()
    assert "Exchanges with Jira" in page and "created ACME-1 in Jira" in page
    assert "resolved: the issue entered Done (ACME-1)" in page
    assert "ignored: the issue is not in a Done-category status (ACME-1)" in page


def test_case8_the_integrations_page_log_is_filterable(linked, sandbox, client, connected):
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    client.post(f"/integrations/jira/webhook/{connected.webhook_token}/", b"{}", content_type="application/json")
    page = client.get("/settings/integrations/").content.decode()
    assert "Jira tells us about changes in ACME." in page and "missing bearer token" in page
    refused = client.get("/settings/integrations/?log_outcome=refused").content.decode()
    assert "missing bearer token" in refused and "resolved: the issue entered Done" not in refused


def test_the_sync_log_is_pruned_after_the_retention(linked, sandbox, settings):
    from allyproof.integrations.jira.sync_log import sync_log_prune

    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    kept = JiraSyncLog.objects.count()
    assert sync_log_prune(now=clock.now() + dt.timedelta(days=89)) == 0
    assert sync_log_prune(now=clock.now() + dt.timedelta(days=91)) == kept


def test_case1_the_regression_policy_is_per_site(linked, sandbox, connected, org, same_clock, rules_for,
                                                   django_capture_on_commit_callbacks):
    """Two sites, two policies: each regression follows its own site's rule, not the organization's first."""
    web = factories.site(org, "Web Co", "https://web.example/")
    factories.ingest(web, factories.axe_fixture("multi_page__site.json").replace(b"www.acme-dental.example",
                                                                                  b"web.example"), scanned_at=clock.now())
    rules_for(web, key="WEB")
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    same_clock.advance(1)
    SiteSyncRule.objects.filter(site=web).update(regression_policy="reopen")
    assert SiteSyncRule.objects.get(site=linked.site).regression_policy == "comment"
    other = web.violations.get(rule_id="color-contrast")
    push.violation_push(violation=other, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(other))
    for key in ("ACME-1", "WEB-1"):
        sandbox.transition_issue(None, key, "Done")
    sandbox.deliver_pending()
    same_clock.advance(60)
    follow_up(rescan(linked.site, django_capture_on_commit_callbacks))
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(web, factories.axe_fixture("multi_page__site.json").replace(
            b"www.acme-dental.example", b"web.example"), scanned_at=clock.now())
    follow_up(ScanFollowUp.objects.get(scan_id=scan.pk))
    categories = {key: sandbox.get_issue(None, key)["fields"]["status"]["statusCategory"]["key"]
                  for key in ("ACME-1", "WEB-1")}
    assert categories == {"ACME-1": "done", "WEB-1": "new"}, list(JiraSyncLog.objects.values_list("code", "message"))


# status_sync's own pieces (mutation testing, docs/mutation-testing.md) ------------------------------

def event_naming(name="jira:issue_updated", issue_id="", issue_key=""):
    from allyproof.integrations.jira.inbound.payload import Event

    return Event(name=name, issue_id=issue_id, issue_key=issue_key, timestamp=None, issue_self="",
                 matched_webhook_ids=(), changelog_id="", comment_id="", payload={})


def test_link_for_finds_our_live_link_by_id_first_then_by_key_and_nothing_else(linked, connected, other_org):
    from allyproof.integrations.jira.inbound.status_sync import link_for

    ours = JiraLink.objects.get(violation=linked)
    now = clock.now()

    def another(key, issue_id, **fields):
        values = dict(organization_id=connected.organization_id, violation=linked, cloud_id=connected.cloud_id,
                      dedupe_key=f"k-{key}", project_key="ACME", issue_key=key, issue_id=issue_id,
                      status=JiraLink.Status.LINKED, created_at=now)
        return JiraLink.objects.create(**{**values, **fields})

    newer = another("ACME-2", "99002")
    another("ACME-6", "99006", status=JiraLink.Status.DELETED)
    another("ACME-7", "99007", cloud_id="another-site")
    another("ACME-8", "99008", organization_id=other_org.pk)
    assert link_for(connected, event_naming(issue_id=ours.issue_id)) == ours
    assert link_for(connected, event_naming(issue_key=ours.issue_key)) == ours
    # An id and a key naming two links (the issue moved, its old key now names another): the id wins.
    assert link_for(connected, event_naming(issue_id=newer.issue_id, issue_key=ours.issue_key)) == newer
    assert link_for(connected, event_naming()) is None
    for key, issue_id in (("ACME-404", "99404"), ("ACME-6", "99006"), ("ACME-7", "99007"), ("ACME-8", "99008")):
        assert link_for(connected, event_naming(issue_key=key)) is None, key
        assert link_for(connected, event_naming(issue_id=issue_id)) is None, issue_id


def test_a_deletion_handled_says_what_happened_and_names_the_violation(linked, connected):
    from allyproof.integrations.jira.inbound.status_sync import Handled, on_issue_deleted, on_issue_updated

    not_ours = Handled(InboundEvent.Outcome.IGNORED, "not_ours", "ignored: not an issue AllyProof created")
    assert on_issue_deleted(connected, event_naming("jira:issue_deleted", "1", "ACME-99"), None) == not_ours
    assert on_issue_updated(connected, event_naming(issue_key="ACME-99"), None) == not_ours
    link = JiraLink.objects.get(violation=linked)
    assert on_issue_deleted(connected, event_naming("jira:issue_deleted", link.issue_id, link.issue_key), link) == Handled(
        InboundEvent.Outcome.APPLIED, "issue_deleted", "ACME-1 deleted in Jira; the violation can be pushed again",
        linked.pk)
    link.refresh_from_db()
    assert link.status == JiraLink.Status.DELETED


def test_only_our_own_comment_on_this_site_is_an_echo(linked, connected):
    """The echo check matches our comment by its id, on this site, as a comment: a person's comment on the
    same issue (which can ride with their move to Done) is never taken for ours."""
    from allyproof.integrations.jira.inbound.status_sync import is_echo
    from allyproof.integrations.jira.inbound.payload import Event

    def with_comment(comment_id):
        return Event(name="jira:issue_updated", issue_id="", issue_key="ACME-1", timestamp=None, issue_self="",
                     matched_webhook_ids=(), changelog_id="", comment_id=comment_id, payload={})

    def wrote(kind, jira_id, cloud_id=connected.cloud_id):
        OutboundWrite.objects.create(cloud_id=cloud_id, issue_key="ACME-1", kind=kind, jira_id=jira_id,
                                     created_at=clock.now())

    wrote("comment", "10001")
    wrote("comment", "10002", cloud_id="another-site")
    wrote("property", "10003")
    assert is_echo(connected, with_comment("10001"))
    assert not is_echo(connected, with_comment(""))
    for person_or_elsewhere in ("10002", "10003", "10004"):
        assert not is_echo(connected, with_comment(person_or_elsewhere)), person_or_elsewhere


def test_a_second_deletion_of_a_link_keeps_the_first_time(linked, same_clock):
    """A late duplicate deletion (webhook after reconciliation) leaves the link's history as it was."""
    from allyproof.integrations.jira.inbound.sync_apply import link_mark_deleted

    link = JiraLink.objects.get(violation=linked)
    link_mark_deleted(link=link)
    first = JiraLink.objects.get(pk=link.pk).deleted_at
    same_clock.advance(60)
    link_mark_deleted(link=JiraLink.objects.get(pk=link.pk))
    assert JiraLink.objects.get(pk=link.pk).deleted_at == first == clock.now() - dt.timedelta(seconds=60)
