"""Pages for sites, scans and violations: adapters that check access, call one service, render."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.contrib import messages
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.http import HttpResponse
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_POST

from allyproof.accounts.decorators import admin_required, member_required
from allyproof.core import impact as impacts
from allyproof.core import plugs

from . import selectors, services, table_columns, trends, wcag
from .axe import AxeResultsError
from .forms import ScanUploadForm, SiteForm
from .models import Scan


PAGE_SIZE = 100  # rows of the violations table; a 10,000-violation site stays fast (bench/site_page.py)


@member_required
def site_list(request):
    organization = request.membership.organization
    return render(request, "monitoring/site_list.html", {
        "sites": _sites_with_trends(organization),
        "form": SiteForm() if request.membership.is_admin else None,
    })


@require_POST
@admin_required
def site_create(request):
    form = SiteForm(request.POST)
    organization = request.membership.organization
    if form.is_valid():
        try:
            site = services.site_create(organization=organization, **form.cleaned_data)
        except IntegrityError:
            form.add_error("base_url", "A site with this URL already exists in your organization.")
        else:
            messages.success(request, f"Added {site.name}.")
            return redirect("site_detail", site_id=site.pk)
    sites = _sites_with_trends(organization)
    return render(request, "monitoring/site_list.html", {"sites": sites, "form": form}, status=400)


def _sites_with_trends(organization):
    sites = list(selectors.sites_for_organization(organization=organization))
    by_site = trends.site_trends(site_ids=[site.pk for site in sites])
    for site in sites:
        site.trend = by_site[site.pk]
    return sites


def _site_page_context(request, site, upload_form=None):
    status = request.GET.get("status", "open")
    status = status if status in selectors.STATUS_FILTERS else "open"
    sort = request.GET.get("sort", "impact")
    sort = sort if sort in selectors.SORTS else "impact"
    paginator = Paginator(selectors.violations_for_site(site=site, status=status, sort=sort), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    violations = list(page.object_list)
    for violation in violations:
        violation.wcag_labels = wcag.labels(violation.tags)
    columns = [column.cells(site, violations) for column in table_columns.registered()]
    return {
        "site": site,
        "violations": violations,
        "page": page,
        "status": status,
        "sort": sort,
        "counts": selectors.violation_counts(site=site),
        "latest_scan": selectors.scans_for_organization(organization=site.organization, site=site)
        .filter(status=Scan.Status.COMPLETED).first(),
        "upload_form": upload_form or ScanUploadForm(),
        "max_upload_mb": settings.CONFIG.max_upload_bytes // (1024 * 1024),
        "impacts": impacts.ORDER,
        "extra_columns": columns,
        "panels": plugs.panels(plugs.SITE_PANELS, request, site),
        "trend": trends.open_by_impact(site=site),
    }


@member_required
def site_detail(request, site_id: int):
    if request.method == "POST":  # the upload form posts here, so a refused file keeps the page's URL
        return scan_upload(request, site_id)
    site = selectors.site_get(organization=request.membership.organization, site_id=site_id)
    return render(request, "monitoring/site_detail.html", _site_page_context(request, site))


@require_POST
@member_required
def scan_upload(request, site_id: int):
    site = selectors.site_get(organization=request.membership.organization, site_id=site_id)
    form = ScanUploadForm(request.POST, request.FILES)
    error = None
    if form.is_valid():
        upload = form.cleaned_data["results"]
        if upload.size > settings.CONFIG.max_upload_bytes:
            limit = settings.CONFIG.max_upload_bytes
            error = f"Nothing was imported: the file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
        else:
            try:
                scan = services.scan_ingest(
                    site=site, stream=upload.open("rb"), source=Scan.Source.UPLOAD, created_by=request.user
                )
            except AxeResultsError as problem:
                error = f"Nothing was imported. {problem}"
            else:
                messages.success(
                    request,
                    f"Scan imported: {scan.pages_scanned} pages, {scan.violations_found} failing rules, "
                    f"{scan.new_violations} new, {scan.reopened_violations} reopened.",
                )
                return redirect("site_detail", site_id=site.pk)
    if error:
        form.add_error("results", error)
    return render(request, "monitoring/site_detail.html", _site_page_context(request, site, form), status=400)


@member_required
def violation_detail(request, site_id: int, violation_id: int):
    violation = selectors.violation_get(
        organization=request.membership.organization, violation_id=violation_id, site_id=site_id
    )
    return render(request, "monitoring/violation_detail.html", {
        "site": violation.site,
        "violation": violation,
        "criteria": wcag.criteria(violation.wcag_tags),
        "levels": wcag.levels(violation.wcag_tags),
        "pages": violation.pages[:100],
        "more_pages": max(0, len(violation.pages) - 100),
        "actions": plugs.panels(plugs.VIOLATION_ACTIONS, request, violation),
        "panels": plugs.panels(plugs.VIOLATION_PANELS, request, violation),
    })


@require_POST
@member_required
def violation_status(request, site_id: int, violation_id: int):
    violation = selectors.violation_get(
        organization=request.membership.organization, violation_id=violation_id, site_id=site_id
    )
    if request.POST.get("action") == "resolve":
        services.violation_resolve(violation=violation, by=request.user)
        messages.success(request, "Marked resolved.")
    elif request.POST.get("action") == "reopen":
        services.violation_reopen(violation=violation)
        messages.success(request, "Reopened.")
    return redirect("violation_detail", site_id=site_id, violation_id=violation.pk)


@member_required
def scan_list(request):
    organization = request.membership.organization
    site = None
    if request.GET.get("site", "").isdigit():
        site = selectors.site_get(organization=organization, site_id=int(request.GET["site"]))
    scans = selectors.scans_for_organization(organization=organization, site=site)[:200]
    return render(request, "monitoring/scan_list.html", {"scans": scans, "site": site})


@member_required
def scan_detail(request, scan_id: int):
    """A scan's diff: what it found new, fixed, reopened, and what stayed open."""
    scan = selectors.scan_get(organization=request.membership.organization, scan_id=scan_id)
    return render(request, "monitoring/scan_detail.html", {
        "scan": scan,
        "site": scan.site,
        "groups": selectors.scan_changes(scan=scan),
        "panels": plugs.panels(plugs.SCAN_PANELS, request, scan),
    })


# The chart is an image: pygal's SVG carries its own <style>, harmless in an image (no scripts run there).
@csp_override({"default-src": ["'none'"], "style-src": ["'unsafe-inline'"]})
@member_required
def site_trend_svg(request, site_id: int):
    site = selectors.site_get(organization=request.membership.organization, site_id=site_id)
    points = trends.open_by_impact(site=site)
    svg = trends.trend_svg(points, title=f"Open violations by impact, {site.name}")
    return HttpResponse(svg, content_type="image/svg+xml")
