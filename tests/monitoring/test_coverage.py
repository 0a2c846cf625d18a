"""The coverage rule: a violation a scan no longer finds is fixed only when that scan covered every page
it was on; partial coverage leaves it open; found again, it reopens. axe's "needs review" stays apart."""

import datetime as dt

import pytest

from allyproof.monitoring import events
from allyproof.monitoring.models import ScanChange, Violation
from tests import factories

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 8, 9, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 15, 9, 0, tzinfo=dt.UTC)
A, B, C = "https://www.acme-dental.example/", "https://www.acme-dental.example/b", "https://www.acme-dental.example/c"


def page(url, *rules, incomplete=()):
    def item(rule):
        return {"id": rule, "impact": "serious", "description": "d", "help": f"{rule} help", "helpUrl": "",
                "tags": ["wcag2a"], "nodes": [{"target": ["img"], "html": "<img>", "failureSummary": "f"}]}
    return {"url": url, "testEngine": {"version": "4.12.1"}, "violations": [item(r) for r in rules],
            "incomplete": [item(r) for r in incomplete]}


@pytest.fixture
def fixed_events():
    seen = []
    events.subscribe_fixed(seen.append)
    yield seen
    events.unsubscribe_fixed(seen.append)


def test_full_coverage_fixes(site, django_capture_on_commit_callbacks, fixed_events):
    factories.ingest(site, [page(A, "image-alt"), page(B, "image-alt", "label")], scanned_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(site, [page(A), page(B, "label"), page(C)], scanned_at=T1)
    fixed = site.violations.get(rule_id="image-alt")
    assert fixed.status == Violation.Status.RESOLVED and fixed.resolved_at == T1
    assert fixed.resolved_source == f"scan:{scan.pk}" and fixed.resolved_by is None
    assert fixed.resolved_by_label == "Fixed — not detected in scan of 8 Nov 2026"
    assert site.violations.get(rule_id="label").status == Violation.Status.OPEN
    assert scan.fixed_violations == 1
    assert dict(ScanChange.objects.filter(scan=scan).values_list("violation__rule_id", "change")) == {
        "image-alt": "fixed", "label": "still_open"}
    assert [e.violation_ids for e in fixed_events] == [(fixed.pk,)] and fixed_events[0].scanned_at == T1


def test_partial_coverage_leaves_it_open(site, django_capture_on_commit_callbacks, fixed_events):
    factories.ingest(site, [page(A, "image-alt"), page(B, "image-alt")], scanned_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(site, [page(A), page(C)], scanned_at=T1)  # B was not scanned
    violation = site.violations.get(rule_id="image-alt")
    assert violation.status == Violation.Status.OPEN and scan.fixed_violations == 0
    assert ScanChange.objects.get(scan=scan).change == ScanChange.Change.NOT_COVERED
    assert fixed_events == []


def test_a_fixed_violation_found_again_reopens(site, django_capture_on_commit_callbacks, received_completed):
    factories.ingest(site, [page(A, "image-alt")], scanned_at=T0)
    factories.ingest(site, [page(A)], scanned_at=T1)
    violation = site.violations.get(rule_id="image-alt")
    assert violation.status == Violation.Status.RESOLVED
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(site, [page(B, "image-alt")], scanned_at=T2)
    violation.refresh_from_db()
    assert (violation.status, violation.reopened_at, violation.resolved_source) == ("open", T2, "")
    assert site.violations.count() == 1  # the same violation, never a new one
    assert ScanChange.objects.get(scan=scan).change == ScanChange.Change.REOPENED
    assert received_completed[-1].reopened_violation_ids == (violation.pk,)


def test_resolved_by_a_person_is_not_touched_by_coverage(site, owner):
    factories.ingest(site, [page(A, "image-alt")], scanned_at=T0)
    violation = site.violations.get()
    violation.status, violation.resolved_by, violation.resolved_at = "resolved", owner, T0
    violation.save()
    scan = factories.ingest(site, [page(A)], scanned_at=T1)
    violation.refresh_from_db()
    assert violation.resolved_by == owner and scan.fixed_violations == 0


def test_needs_review_is_kept_apart_from_violations(site):
    scan = factories.ingest(site, [page(A, "image-alt", incomplete=["color-contrast"]),
                                   page(B, incomplete=["color-contrast"])], scanned_at=T0)
    assert set(site.violations.values_list("rule_id", flat=True)) == {"image-alt"}
    assert scan.needs_review == [{"rule_id": "color-contrast", "impact": "serious", "help": "color-contrast help",
                                  "help_url": "", "pages": 2, "elements": 2}]
    assert scan.covered_pages == [A, B]


@pytest.fixture
def received_completed():
    seen = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)


def test_the_violation_page_says_fixed_by_which_scan(site, client, member_user):
    factories.ingest(site, [page(A, "image-alt")], scanned_at=T0)
    factories.ingest(site, [page(A)], scanned_at=T1)
    violation = site.violations.get()
    client.force_login(member_user)
    html = client.get(f"/sites/{site.pk}/violations/{violation.pk}/").content.decode()
    assert "Resolved: fixed — not detected in scan of 8 Nov 2026" in html
