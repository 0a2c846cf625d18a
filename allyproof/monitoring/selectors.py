"""Reads for monitoring. Every lookup on behalf of a person is scoped to their organization."""

from __future__ import annotations

from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from allyproof.accounts.models import Organization
from allyproof.core import impact as impacts

from .models import Scan, ScanChange, Site, Violation

SORTS = {
    "impact": ("-impact_rank", "rule_id"),
    "-impact": ("impact_rank", "rule_id"),
    "pages": ("-page_count", "rule_id"),
    "-pages": ("page_count", "rule_id"),
    "rule": ("rule_id",),
    "-rule": ("-rule_id",),
    "detected": ("-first_detected_at", "rule_id"),
    "-detected": ("first_detected_at", "rule_id"),
}
STATUS_FILTERS = ("open", "resolved", "all")


def _impact_rank() -> Case:
    return impacts.rank_expression()


def sites_for_organization(*, organization: Organization, active_only: bool = False) -> QuerySet[Site]:
    sites = Site.objects.filter(organization=organization)
    if active_only:
        sites = sites.filter(active=True)
    open_ = Q(violations__status=Violation.Status.OPEN)
    sites = sites.annotate(scanned=Exists(Scan.objects.filter(site=OuterRef("pk"))))
    return sites.annotate(
        open_count=Count("violations", filter=open_),
        critical_count=Count("violations", filter=open_ & Q(violations__impact="critical")),
        serious_count=Count("violations", filter=open_ & Q(violations__impact="serious")),
    ).order_by("name")


def site_get(*, organization: Organization, site_id: int) -> Site:
    site = Site.objects.filter(organization=organization, pk=site_id).first()
    if site is None:
        raise Http404("No such site.")
    return site


def violations_for_site(
    *, site: Site, status: str = "open", sort: str = "impact", impact: str | None = None, rule: str | None = None
) -> QuerySet[Violation]:
    """The site's violations for a table: the heavy JSON columns (pages, samples) are left out."""
    violations = Violation.objects.filter(site=site).defer("pages", "samples")
    if status in ("open", "resolved"):
        violations = violations.filter(status=status)
    if impact:
        violations = violations.filter(impact=impact)
    if rule:
        violations = violations.filter(rule_id=rule)
    return violations.annotate(impact_rank=_impact_rank()).order_by(*SORTS.get(sort, SORTS["impact"]))


def violation_get(*, organization: Organization, violation_id: int, site_id: int | None = None) -> Violation:
    violations = Violation.objects.select_related("site", "resolved_by").filter(
        site__organization=organization, pk=violation_id
    )
    if site_id is not None:
        violations = violations.filter(site_id=site_id)
    violation = violations.first()
    if violation is None:
        raise Http404("No such violation.")
    return violation


def scans_for_organization(*, organization: Organization, site: Site | None = None) -> QuerySet[Scan]:
    scans = Scan.objects.filter(site__organization=organization).select_related("site", "created_by")
    if site is not None:
        scans = scans.filter(site=site)
    return scans.order_by("-started_at")


def violation_counts(*, site: Site) -> dict[str, int]:
    rows = Violation.objects.filter(site=site).values("status").annotate(n=Count("id"))
    counts = {"open": 0, "resolved": 0}
    counts.update({row["status"]: row["n"] for row in rows})
    counts["all"] = counts["open"] + counts["resolved"]
    return counts


def scan_get(*, organization: Organization, scan_id: int) -> Scan:
    scan = Scan.objects.select_related("site", "created_by").filter(site__organization=organization, pk=scan_id).first()
    if scan is None:
        raise Http404("No such scan.")
    return scan


DIFF_ORDER = (ScanChange.Change.NEW, ScanChange.Change.FIXED, ScanChange.Change.REOPENED,
              ScanChange.Change.STILL_OPEN, ScanChange.Change.NOT_COVERED)


def scan_changes(*, scan: Scan, limit: int = 500) -> list[dict]:
    """The scan's diff, one group per kind of change, most severe first within each."""
    groups = []
    for change in DIFF_ORDER:
        rows = (ScanChange.objects.filter(scan=scan, change=change).select_related("violation")
                .annotate(rank=impacts.rank_expression())
                .order_by("-rank", "violation__rule_id"))
        groups.append({"change": change, "label": change.label, "count": rows.count(), "rows": list(rows[:limit])})
    return groups
