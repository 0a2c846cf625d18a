"""Writes for monitoring: sites, scans and violations."""

from __future__ import annotations

import datetime as dt
from typing import IO

from django.db import transaction

from allyproof.accounts.models import Organization, User
from allyproof.core import clock

from . import axe, events
from .models import Scan, Site, Violation


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


def scan_ingest(
    *,
    site: Site,
    stream: IO[bytes],
    source: str,
    created_by: User | None = None,
    scanned_at: dt.datetime | None = None,
) -> Scan:
    """One ingestion is one scan. Validates the whole stream before writing anything.

    Known violations are updated, new ones created (first detected = this scan), resolved ones that
    are seen again are reopened — the same violation, never a new one. Raises AxeResultsError.
    """
    result = axe.aggregate(stream)
    scanned_at = scanned_at or clock.now()
    with transaction.atomic():
        # One ingestion per site at a time: two scans racing would both try to create the same rule.
        Site.objects.select_for_update().filter(pk=site.pk).first()
        scan = Scan.objects.create(
            site=site, status=Scan.Status.COMPLETED, source=source, pages_scanned=result.pages_scanned,
            violations_found=len(result.rules), axe_version=result.axe_version, started_at=scanned_at,
            completed_at=clock.now(), created_by=created_by,
        )
        known = {v.rule_id: v for v in Violation.objects.filter(site=site, rule_id__in=list(result.rules))}
        created, updated, reopened = [], [], []
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
            updated.append(violation)
        Violation.objects.bulk_create(created, batch_size=500)
        Violation.objects.bulk_update(updated, _UPDATED_FIELDS, batch_size=500)
        scan.new_violations, scan.reopened_violations = len(created), len(reopened)
        scan.save(update_fields=["new_violations", "reopened_violations"])
        events.publish_on_commit(
            events.ScanCompleted(
                scan_id=scan.pk, site_id=site.pk, organization_id=site.organization_id,
                new_violation_ids=tuple(v.pk for v in created),
                reopened_violation_ids=tuple(v.pk for v in reopened),
            )
        )
    return scan


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
