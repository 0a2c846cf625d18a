"""A scan no longer finds a linked violation: its Jira issue is told (a comment, or a comment and a move
to Done), both recorded as our writes, so their webhooks change nothing; found again, it reopens."""

import datetime as dt
import json

import pytest

from allyproof.core import clock
from allyproof.integrations.jira.outbound import autopush
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.outbound import scan_fixed
from allyproof.integrations.jira.outbound import scan_followup
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import InboundEvent, JiraSyncLog, OutboundWrite, ScanFollowUp, SiteSyncRule
from allyproof.integrations.jira.sync_log import sync_log_for_violation
from allyproof.monitoring import events
from allyproof.monitoring.models import Violation
from tests import factories
from tests.jira.conftest import NoGate, deliver_into
from tests.monitoring.test_coverage import A, B, page

T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 8, 9, tzinfo=dt.UTC)


@pytest.fixture
def pushed(site, rules_for, connected, sandbox, client):
    rules_for(site)
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    sandbox.webhook_sender = deliver_into(client)
    factories.ingest(site, [page(A, "image-alt"), page(B, "image-alt", "label")], scanned_at=T0)
    violation = site.violations.get(rule_id="image-alt")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    return violation


def fixed_scan(site, events_capture):
    seen = []
    events.subscribe_fixed(seen.append)
    try:
        with events_capture(execute=True):
            factories.ingest(site, [page(A), page(B, "label")], scanned_at=T1)
    finally:
        events.unsubscribe_fixed(seen.append)
    (event,) = seen
    return scan_fixed.scan_fixed(scan_id=event.scan_id, violation_ids=list(event.violation_ids),
                                 client_for=lambda c: client_for(c, gate=NoGate()))


def comments(sandbox, key):
    issue = sandbox.get_issue(None, key)
    return [json.dumps(c["body"], ensure_ascii=False) for c in issue["fields"]["comment"]["comments"]]


def test_fixed_comments_on_the_issue_and_the_echo_changes_nothing(site, pushed, sandbox,
                                                                 django_capture_on_commit_callbacks):
    assert fixed_scan(site, django_capture_on_commit_callbacks) == 1
    pushed.refresh_from_db()
    assert pushed.status == Violation.Status.RESOLVED and pushed.resolved_source.startswith("scan:")
    (text,) = comments(sandbox, "ACME-1")
    assert "fixed — not detected in the scan of 08 Nov 2026, 09:00 UTC" in text
    assert sandbox.get_issue(None, "ACME-1")["fields"]["status"]["statusCategory"]["key"] != "done"
    write = OutboundWrite.objects.get(kind="comment", issue_key="ACME-1")
    sandbox.deliver_pending()
    last = InboundEvent.objects.order_by("pk").last()
    assert (last.outcome, last.issue_key) == ("echo", "ACME-1") and write.jira_id
    pushed.refresh_from_db()
    assert pushed.resolved_source.startswith("scan:")  # not re-resolved as "jira:ACME-1"
    assert json.dumps(sandbox.conformance.failures) == "[]"


def test_comment_and_done_moves_the_issue_and_its_echo_is_ours(site, pushed, sandbox,
                                                               django_capture_on_commit_callbacks):
    SiteSyncRule.objects.filter(site=site).update(fixed_action=SiteSyncRule.FIXED_COMMENT_AND_DONE)
    assert fixed_scan(site, django_capture_on_commit_callbacks) == 1
    assert sandbox.get_issue(None, "ACME-1")["fields"]["status"]["statusCategory"]["key"] == "done"
    assert set(OutboundWrite.objects.filter(issue_key="ACME-1").values_list("kind", flat=True)) >= {
        "comment", "transition"}
    sandbox.deliver_pending()
    outcomes = list(InboundEvent.objects.filter(issue_key="ACME-1").values_list("outcome", "detail"))
    assert ("echo", "ignored: our own move to Done (fixed by a scan)") in outcomes
    assert all(outcome == "echo" for outcome, _ in outcomes), outcomes
    # The sync log says which echo it was (a filter reads the code), on the violation's own page.
    assert JiraSyncLog.objects.filter(direction="inbound", outcome="echo", code="our_transition",
                                      violation=pushed).exists()
    pushed.refresh_from_db()
    assert pushed.resolved_source.startswith("scan:")
    assert json.dumps(sandbox.conformance.failures) == "[]"


def test_found_again_reopens_and_the_issue_hears_it(site, pushed, sandbox, django_capture_on_commit_callbacks):
    fixed_scan(site, django_capture_on_commit_callbacks)
    seen = []
    events.subscribe(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            factories.ingest(site, [page(A, "image-alt")], scanned_at=clock.now())
    finally:
        events.unsubscribe(seen.append)
    pushed.refresh_from_db()
    assert pushed.status == Violation.Status.OPEN and pushed.pk in seen[-1].reopened_violation_ids
    autopush.scan_completed(site_id=site.pk, new_violation_ids=[], reopened_violation_ids=[pushed.pk],
                            client_for=lambda c: client_for(c, gate=NoGate()), enqueue=None)
    assert len(comments(sandbox, "ACME-1")) == 2  # "fixed", then "detected again"


def test_a_violation_reopened_before_the_job_ran_is_not_told(site, pushed, sandbox,
                                                            django_capture_on_commit_callbacks):
    seen = []
    events.subscribe_fixed(seen.append)
    with django_capture_on_commit_callbacks(execute=True):
        factories.ingest(site, [page(A), page(B)], scanned_at=T1)
    events.unsubscribe_fixed(seen.append)
    factories.ingest(site, [page(A, "image-alt")], scanned_at=T1 + dt.timedelta(hours=1))  # back before the job
    told = scan_fixed.scan_fixed(scan_id=seen[0].scan_id, violation_ids=list(seen[0].violation_ids),
                                 client_for=lambda c: client_for(c, gate=NoGate()))
    assert told == 0 and comments(sandbox, "ACME-1") == []


def test_admins_choose_what_fixed_does_in_jira(site, pushed, client, member_user):
    html = client.get(f"/sites/{site.pk}/").content.decode()  # the fixture signed in an admin
    assert "When a scan no longer finds a linked violation" in html
    response = client.post(f"/sites/{site.pk}/jira/fixed-action/", {"fixed_action": "comment_and_done"})
    assert response.status_code == 302
    assert SiteSyncRule.objects.get(site=site).fixed_action == "comment_and_done"
    client.post(f"/sites/{site.pk}/jira/fixed-action/", {"fixed_action": "delete_everything"}, follow=True)
    assert SiteSyncRule.objects.get(site=site).fixed_action == "comment_and_done"  # a bad value changes nothing
    client.force_login(member_user)
    assert "When a scan no longer finds" not in client.get(f"/sites/{site.pk}/").content.decode()
    assert client.post(f"/sites/{site.pk}/jira/fixed-action/", {"fixed_action": "comment"}).status_code == 403


def test_the_violation_page_tells_every_exchange_with_jira_in_words(site, pushed, sandbox, client, connected,
                                                                   django_capture_on_commit_callbacks):
    """Issue 9's "done when": every outbound write and every delivery about the violation has a line."""
    sandbox.faults.add_delivery(kind="duplicate")
    sandbox.transition_issue(None, "ACME-1", "In Progress")  # delivered twice
    sandbox.deliver_pending()
    fixed_scan(site, django_capture_on_commit_callbacks)  # our "fixed" comment, then its echo
    sandbox.deliver_pending()
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(site, [page(A, "image-alt")], scanned_at=clock.now())  # found again
    row = ScanFollowUp.objects.get(scan_id=scan.pk)
    assert scan_followup.scan_followup_run(followup_id=row.pk, enqueue=None,
                                           client_for=lambda c: client_for(c, gate=NoGate()))
    sandbox.deliver_pending()  # the echo of "detected again"
    sandbox.transition_issue(None, "ACME-1", "Done")
    sandbox.deliver_pending()
    rows = sync_log_for_violation(violation_id=pushed.pk, organization_id=site.organization_id)
    outbound = [r for r in rows if r["direction"] == "To Jira"]
    inbound = [r for r in rows if r["direction"] == "From Jira"]
    writes = OutboundWrite.objects.filter(cloud_id=connected.cloud_id, issue_key="ACME-1")
    assert sorted(r["code"] for r in outbound) == ["detected_again", "fixed_by_scan", "issue_created"]
    assert writes.count() == len(outbound)  # one line per write: the creation and the two comments
    reached_us = [a for a in sandbox.deliveries if a.issue_key == "ACME-1" and a.status in (200, 202)]
    assert len(reached_us) == len(inbound) == 5  # In Progress twice, two echoes, Done
    page_text = client.get(f"/sites/{site.pk}/violations/{pushed.pk}/").content.decode()
    for line in rows:
        assert line["message"].replace("\u201c", "&ldquo;").replace("\u201d", "&rdquo;") in page_text \
            or line["message"] in page_text, line
    assert "ignored: this change was already received" in page_text
    assert "ignored: our own comment" in page_text and "resolved: the issue entered Done (ACME-1)" in page_text
