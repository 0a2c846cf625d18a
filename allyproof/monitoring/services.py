"""Writes for monitoring: sites, scans and violations."""

from __future__ import annotations

import datetime as dt
from typing import IO

from django.db import transaction

from allyproof.accounts.models import Organization, User
from allyproof.core import clock

from . import axe, events
from .models import Scan, ScanChange, Site, Violation


def site_create(*, organization: Organization, name: str, base_url: str) -> Site:
    """Raises IntegrityError when the organization already has a site at that URL."""
    with transaction.atomic():  # a savepoint, so a duplicate leaves the caller's transaction usable
        return Site.objects.create(organization=organization, name=name.strip(), base_url=base_url.strip())


def _apply(violation: Violation, rule: axe.RuleAggregate, scan: Scan) -> None:
    violation.impact = rule.impact
    violation.description = rule.description
    violation.help = rule.help[:500]
    violation.help_url = rule.help_url[:500]
    violation.tags = rule.tags
    violation.wcag_tags = rule.wcag_tags
    violation.pages = rule.pages
    violation.page_count = len(rule.pages)
    violation.element_count = rule.element_count
    violation.samples = rule.samples
    violation.last_detected_at = scan.started_at
    violation.last_scan = scan


_UPDATED_FIELDS = [
    "impact", "description", "help", "help_url", "tags", "wcag_tags", "pages", "page_count",
    "element_count", "samples", "last_detected_at", "last_scan", "status", "resolved_at",
    "resolved_by", "resolved_source", "reopened_at",
]


def scan_start(*, site: Site, source: str, created_by: User | None = None) -> Scan:
    """A scan that is still running (the scanner's): listed at once, completed by `scan_ingest(scan=...)`."""
    return Scan.objects.create(site=site, status=Scan.Status.RUNNING, source=source, started_at=clock.now(),
                               created_by=created_by)


def scan_fail(*, scan: Scan, error: str) -> Scan:
    scan.status, scan.error, scan.completed_at = Scan.Status.FAILED, error[:2000], clock.now()
    scan.save(update_fields=["status", "error", "completed_at"])
    return scan


def scan_ingest(
    *,
    site: Site,
    stream: IO[bytes],
    source: str,
    created_by: User | None = None,
    scanned_at: dt.datetime | None = None,
    scan: Scan | None = None,
    pages_failed: int = 0,
) -> Scan:
    """One ingestion is one scan. Validates the whole stream before writing anything.

    Known violations are updated, new ones created (first detected = this scan), resolved ones that
    are seen again are reopened — the same violation, never a new one. An open violation this scan
    did not find is fixed when the scan covered every page it was last seen on; otherwise it stays
    open. `scan` completes a running scan (the scanner's) instead of creating one. Raises AxeResultsError.
    """
    began = clock.now()
    result = axe.aggregate(stream)
    scanned_at = scanned_at or (scan.started_at if scan else began)
    with transaction.atomic():
        # One ingestion per site at a time: two scans racing would both try to create the same rule.
        Site.objects.select_for_update().filter(pk=site.pk).first()
        scan = _scan_row(site, scan, result, source=source, created_by=created_by, scanned_at=scanned_at,
                         pages_failed=pages_failed, took=clock.now() - began)
        created, updated, reopened, still_open = _match_rules(site, scan, result, scanned_at)
        Violation.objects.bulk_create(created, batch_size=500)
        Violation.objects.bulk_update(updated, _UPDATED_FIELDS, batch_size=500)
        fixed, not_covered = _fix_absent(site, scan, set(result.rules), set(result.pages), scanned_at)
        _record_changes(scan, created=created, reopened=reopened, still_open=still_open, fixed=fixed,
                        not_covered=not_covered)
        scan.new_violations, scan.reopened_violations, scan.fixed_violations = len(created), len(reopened), len(fixed)
        scan.save(update_fields=["new_violations", "reopened_violations", "fixed_violations"])
        _announce(site, scan, created=created, reopened=reopened, fixed=fixed, scanned_at=scanned_at)
    return scan


def _match_rules(site: Site, scan: Scan, result, scanned_at: dt.datetime):
    """This scan's rules against the site's violations: (created, updated, reopened, still open)."""
    known = {v.rule_id: v for v in Violation.objects.filter(site=site, rule_id__in=list(result.rules))}
    created, updated, reopened, still_open = [], [], [], []
    for rule_id, rule in result.rules.items():
        violation = known.get(rule_id)
        if violation is None:
            violation = Violation(site=site, rule_id=rule_id, first_detected_at=scanned_at, first_scan=scan)
            _apply(violation, rule, scan)
            created.append(violation)
            continue
        _apply(violation, rule, scan)
        if violation.status == Violation.Status.RESOLVED:
            violation.status = Violation.Status.OPEN
            violation.resolved_at = violation.resolved_by = None
            violation.resolved_source = ""
            violation.reopened_at = scanned_at
            reopened.append(violation)
        else:
            still_open.append(violation)
        updated.append(violation)
    return created, updated, reopened, still_open


def _announce(site: Site, scan: Scan, *, created, reopened, fixed, scanned_at: dt.datetime) -> None:
    events.publish_on_commit(
        events.ScanCompleted(
            scan_id=scan.pk, site_id=site.pk, organization_id=site.organization_id,
            new_violation_ids=tuple(v.pk for v in created),
            reopened_violation_ids=tuple(v.pk for v in reopened),
        )
    )
    if fixed:
        events.publish_fixed_on_commit(events.ViolationsFixed(
            scan_id=scan.pk, site_id=site.pk, organization_id=site.organization_id,
            violation_ids=tuple(v.pk for v in fixed), scanned_at=scanned_at,
        ))


def _scan_row(site, scan, result, *, source, created_by, scanned_at, pages_failed, took) -> Scan:
    """The scanner's running scan completes now. An upload is a scan of its own that starts when it was
    scanned (an import may say it ran days ago) and takes as long as its ingestion did: ending it "now"
    made a week-old import last a week."""
    completed_at = clock.now() if scan is not None else scanned_at + took
    values = dict(
        status=Scan.Status.COMPLETED, pages_scanned=result.pages_scanned, violations_found=len(result.rules),
        axe_version=result.axe_version, completed_at=completed_at, covered_pages=result.pages,
        pages_failed=pages_failed, needs_review=sorted(result.needs_review.values(), key=lambda r: r["rule_id"]),
    )
    if scan is None:
        return Scan.objects.create(site=site, source=source, started_at=scanned_at, created_by=created_by, **values)
    for name, value in values.items():
        setattr(scan, name, value)
    scan.save(update_fields=list(values))
    return scan


def fixed_label(scanned_at: dt.datetime) -> str:
    return f"fixed — not detected in scan of {scanned_at:%-d %b %Y}"


def _fix_absent(site, scan, found: set[str], covered: set[str], scanned_at):
    """Open violations this scan did not find: fixed when every page they were on was covered."""
    absent = Violation.objects.filter(site=site, status=Violation.Status.OPEN).exclude(rule_id__in=found)
    fixed, not_covered = [], []
    for violation in absent.only("pk", "pages", "impact"):
        pages = set(violation.pages or [])
        (fixed if pages and pages <= covered else not_covered).append(violation)
    Violation.objects.filter(pk__in=[v.pk for v in fixed]).update(
        status=Violation.Status.RESOLVED, resolved_at=scanned_at, resolved_by=None,
        resolved_source=f"scan:{scan.pk}",
    )
    return fixed, not_covered


def _record_changes(scan: Scan, **groups: list[Violation]) -> None:
    kinds = {"created": ScanChange.Change.NEW, "reopened": ScanChange.Change.REOPENED,
             "still_open": ScanChange.Change.STILL_OPEN, "fixed": ScanChange.Change.FIXED,
             "not_covered": ScanChange.Change.NOT_COVERED}
    ScanChange.objects.bulk_create(
        [ScanChange(scan=scan, violation_id=v.pk, change=kinds[group], impact=v.impact)
         for group, violations in groups.items() for v in violations],
        batch_size=1000,
    )


def violation_resolve(*, violation: Violation, by: User | None = None, source: str = "") -> Violation:
    if violation.status == Violation.Status.RESOLVED:
        return violation
    violation.status = Violation.Status.RESOLVED
    violation.resolved_at = clock.now()
    violation.resolved_by = by
    violation.resolved_source = "" if by else source
    violation.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_source"])
    return violation


def violation_reopen(*, violation: Violation) -> Violation:
    if violation.status == Violation.Status.OPEN:
        return violation
    violation.status = Violation.Status.OPEN
    violation.resolved_at = violation.resolved_by = None
    violation.resolved_source = ""
    violation.reopened_at = clock.now()
    violation.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_source", "reopened_at"])
    return violation
