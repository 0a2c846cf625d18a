"""Ingestion into the database: one ingestion is one scan, updates, reopen, the scan-completed event."""

import datetime as dt
import json

import pytest

from allyproof.monitoring import events
from allyproof.monitoring.axe import AxeResultsError
from allyproof.monitoring.models import Scan, Violation
from allyproof.monitoring.services import violation_resolve
from tests import factories

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=7)


@pytest.fixture
def received():
    seen = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)


def test_first_scan_creates_one_violation_per_rule(site, django_capture_on_commit_callbacks, received):
    pages = json.loads(factories.axe_fixture("multi_page__site.json"))
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(site, factories.axe_fixture("multi_page__site.json"), scanned_at=T0)
    rules = {v["id"] for p in pages for v in p["violations"]}
    assert scan.status == Scan.Status.COMPLETED
    assert (scan.pages_scanned, scan.violations_found, scan.new_violations) == (len(pages), len(rules), len(rules))
    assert set(site.violations.values_list("rule_id", flat=True)) == rules
    image_alt = site.violations.get(rule_id="image-alt")
    assert image_alt.page_count == len(pages)
    assert image_alt.first_detected_at == image_alt.last_detected_at == T0
    assert image_alt.impact == "critical"
    assert "wcag111" in image_alt.wcag_tags and "cat.text-alternatives" not in image_alt.wcag_tags
    assert len(received) == 1 and set(received[0].new_violation_ids) == set(site.violations.values_list("pk", flat=True))


def test_rescan_updates_known_violations_and_adds_new_ones(site):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"), scanned_at=T0)
    before = {v.rule_id: v for v in site.violations.all()}
    rescan_pages = json.loads(factories.axe_fixture("multi_page__rescan.json"))
    scan = factories.ingest(site, factories.axe_fixture("multi_page__rescan.json"), scanned_at=T1)

    rescan_rules = {v["id"] for p in rescan_pages for v in p["violations"]}
    after = {v.rule_id: v for v in site.violations.all()}
    assert scan.new_violations == len(rescan_rules - set(before)) >= 1
    assert site.violations.count() == len(set(before) | rescan_rules)  # same violation, never a new one
    for rule_id in rescan_rules & set(before):
        assert after[rule_id].pk == before[rule_id].pk
        assert after[rule_id].first_detected_at == T0
        assert after[rule_id].last_detected_at == T1
        expected_pages = [p["url"] for p in rescan_pages if any(v["id"] == rule_id for v in p["violations"])]
        assert after[rule_id].pages == expected_pages
        assert after[rule_id].page_count == len(expected_pages)
    covered = {p["url"] for p in rescan_pages}
    for rule_id in set(before) - rescan_rules:  # not seen again: fixed only if the rescan covered its pages
        assert after[rule_id].last_detected_at == T0
        all_covered = set(before[rule_id].pages) <= covered
        assert after[rule_id].status == (Violation.Status.RESOLVED if all_covered else Violation.Status.OPEN)


def test_resolved_violation_seen_again_is_reopened(site, owner, django_capture_on_commit_callbacks, received):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"), scanned_at=T0)
    violation = site.violations.get(rule_id="image-alt")
    violation_resolve(violation=violation, by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        scan = factories.ingest(site, factories.axe_fixture("multi_page__rescan.json"), scanned_at=T1)
    violation.refresh_from_db()
    assert violation.status == Violation.Status.OPEN
    assert violation.reopened_at == T1 and violation.resolved_at is None and violation.resolved_by is None
    assert scan.reopened_violations == 1
    assert received[-1].reopened_violation_ids == (violation.pk,)


def test_bad_input_writes_nothing(site):
    good_then_bad = [
        {"url": "https://www.acme-dental.example/", "violations": []},
        {"url": "https://www.acme-dental.example/b", "violations": [{"id": "image-alt", "impact": "huge"}]},
    ]
    with pytest.raises(AxeResultsError):
        factories.ingest(site, good_then_bad)
    assert Scan.objects.count() == 0 and Violation.objects.count() == 0


def test_a_failing_receiver_does_not_undo_the_scan(site, django_capture_on_commit_callbacks):
    def broken(event):
        raise RuntimeError("receiver bug")

    events.subscribe(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            factories.ingest(site, factories.axe_fixture("single_page__home.json"))
    finally:
        events.unsubscribe(broken)
    assert Scan.objects.filter(site=site).count() == 1


def test_an_import_dated_in_the_past_lasts_as_long_as_its_ingestion(db):
    """The demo's week-old imports once lasted a week on the Scans page: completed "now", started when scanned."""
    from allyproof.core import clock

    readings = iter([T1, T1 + dt.timedelta(seconds=3)])  # ingestion begins, then ends 3 s later
    site = factories.site(factories.organization("Dated"))
    with clock.follow(lambda: next(readings, T1 + dt.timedelta(seconds=3))):
        scan = factories.ingest(site, factories.axe_fixture("multi_page__site.json"), scanned_at=T0)
    assert scan.started_at == T0 and scan.completed_at == T0 + dt.timedelta(seconds=3)
    assert scan.duration_label == "3 s"


@pytest.mark.parametrize(("seconds", "label"), [(0, "0 s"), (119, "119 s"), (120, "2 min 0 s"), (7199, "119 min 59 s"),
                                                (7200, "2 h 0 min"), (90_061, "25 h 1 min")])
def test_a_scan_duration_reads_in_the_unit_that_fits(seconds, label):
    scan = Scan(started_at=T0, completed_at=T0 + dt.timedelta(seconds=seconds))
    assert scan.duration_label == label
