"""Convergence (Build 2): when Jira ends up with two issues for one violation anyway, keep the oldest,
link and close the newer, comment the kept key, record the repair; echoes of those writes change nothing."""

import datetime as dt

import pytest
from django.conf import settings

from allyproof.core import clock
from allyproof.integrations.jira.outbound import converge
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import (
    JiraConnection,
    JiraLink,
    JiraSyncLog,
    OutboundWrite,
    RepairedDuplicate,
)
from tests.jira.conftest import NoGate
from tests.jira.test_push import do_push, push_until_settled

ISSUE = r"/rest/api/3/issue$"


@pytest.fixture(autouse=True)
def one_clock(sandbox):
    sandbox.clock.freeze()
    with clock.follow(lambda: dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)):
        yield


@pytest.fixture
def violation(acme):
    return acme.violations.get(rule_id="image-alt")


def settle(sandbox, connected, seconds):
    sandbox.clock.advance(seconds)
    return converge.converge_due(client_for=lambda c: client_for(c, gate=NoGate()))


@pytest.mark.parametrize("scenario", ["commit later than the window", "search lag longer than the window"])
def test_a_duplicate_jira_made_anyway_is_linked_closed_and_recorded(violation, connected, sandbox, scenario):
    if scenario == "commit later than the window":
        sandbox.faults.add(method="POST", path=ISSUE, kind="late_commit", commit_after=1000)
    else:
        sandbox.set_search_lag(None, 1200)
        sandbox.faults.add(method="POST", path=ISSUE, kind="late_commit", commit_after=200)
    result, waits = push_until_settled(violation, connected, sandbox)
    assert result.created and waits  # the protocol waited, then (wrongly, as Jira broke its bounds) created
    link = JiraLink.objects.get(pk=result.link.pk)
    # Looked at again once search has caught up with whatever Jira did meanwhile: a look due at once
    # (mutation testing: `now - windows`) could see one issue before a late duplicate is indexed.
    windows = dt.timedelta(seconds=settings.CONFIG.jira_commit_window_seconds + settings.CONFIG.jira_search_lag_seconds)
    assert link.verify_at == link.linked_at + windows
    assert settle(sandbox, connected, 0) == 0 and JiraLink.objects.get(pk=link.pk).verify_at == link.verify_at
    assert settle(sandbox, connected, 2000) + settle(sandbox, connected, 2000) == 1
    issues = sorted(sandbox.issues(None), key=lambda i: int(i["id"]))
    assert len(issues) == 2
    kept, duplicate = issues[0]["key"], issues[1]["key"]
    link.refresh_from_db()
    assert link.issue_key == kept and link.verify_at is None  # the link points at the oldest
    assert sandbox.get_issue(None, duplicate)["fields"]["status"]["statusCategory"]["key"] == "done"
    assert [(x["type"], x["inward"], x["outward"]) for x in sandbox.links_of(None, duplicate)] == [
        ("Duplicate", duplicate, kept)]
    repair = RepairedDuplicate.objects.get()
    assert (repair.kept_key, repair.duplicate_key, repair.issue_linked, repair.commented, repair.closed) == (
        kept, duplicate, True, True, True)
    assert JiraConnection.objects.get(pk=connected.pk).duplicates_repaired == 1
    assert set(OutboundWrite.objects.filter(issue_key=duplicate).values_list("kind", flat=True)) >= {
        "link", "comment", "transition"}
    assert settle(sandbox, connected, 2000) == 0  # nothing left to repair, nothing repaired twice
    (line,) = JiraSyncLog.objects.filter(code="duplicate_repaired", violation=violation)  # on the violation's page
    assert line.message == (f"{duplicate} was a second issue for this violation: commented that it duplicates {kept}; "
                            "linked it as a duplicate; moved it to Done")


def test_without_a_duplicate_link_type_a_comment_names_the_kept_key(violation, connected, sandbox):
    sandbox.set_link_types(None, ["Blocks", "Relates"])
    sandbox.faults.add(method="POST", path=ISSUE, kind="late_commit", commit_after=1000)
    push_until_settled(violation, connected, sandbox)
    assert settle(sandbox, connected, 2000) == 1
    repair = RepairedDuplicate.objects.get()
    assert not repair.issue_linked and repair.commented and sandbox.issue_links == []
    comments = [r for r in sandbox.requests if r.method == "POST" and r.path.endswith(f"/{repair.duplicate_key}/comment")]
    assert repair.kept_key in str(comments[0].body)


def test_no_duplicate_no_repair(violation, connected, sandbox):
    sandbox.faults.add(method="POST", path=ISSUE, kind="timeout")  # nothing committed
    result, _ = push_until_settled(violation, connected, sandbox)
    assert settle(sandbox, connected, 2000) == 0
    assert not RepairedDuplicate.objects.exists() and len(sandbox.issues(None)) == 1
    assert JiraLink.objects.get(pk=result.link.pk).verify_at is None


def test_a_plain_push_needs_no_look_again(violation, connected, sandbox):
    result = do_push(violation, connected, sandbox)
    assert result.link.verify_at is None
