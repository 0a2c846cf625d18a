"""Scan now, cancel, live progress and scan settings: adapters over the scanning services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from allyproof.accounts.decorators import admin_required, member_required
from allyproof.monitoring import selectors as monitoring_selectors

from . import browser, panel, selectors, services
from .forms import ScanSettingsForm
from .models import ScanSettings
from .tasks import run_scan_task

STOP_POLLING = 286  # htmx's "stop polling" status


def _site(request, site_id: int):
    return monitoring_selectors.site_get(organization=request.membership.organization, site_id=site_id)


def _panel(request, site, status: int = 200, form=None):
    context = {"panel": panel.site_panel_context(request, site, form=form)}
    return render(request, "scanning/_site_panel.html", context, status=status)


@require_POST
@member_required
def scan_now(request, site_id: int):
    site = _site(request, site_id)
    status = browser.browser_status()
    if not status.available:
        messages.error(request, f"{status.problem} Install one with: {browser.INSTALL_COMMAND}")
    else:
        try:
            services.scan_request(site=site, source="manual", requested_by=request.user, enqueue=run_scan_task)
        except services.ScanAlreadyRunning:
            messages.info(request, "A scan of this site is already running.")
    if request.htmx:
        return _panel(request, site)
    return redirect(f"/sites/{site.pk}/#scanner")


@require_POST
@member_required
def scan_cancel(request, site_id: int, run_id: int):
    site = _site(request, site_id)
    run = selectors.run_get(site=site, run_id=run_id)
    if run is None:
        raise Http404("No such scan.")
    services.scan_cancel(run=run, by=request.user)
    if request.htmx:
        return _panel(request, site)
    return redirect(f"/sites/{site.pk}/#scanner")


@member_required
def scan_progress(request, site_id: int):
    site = _site(request, site_id)
    response = _panel(request, site)
    run = selectors.latest_run(site=site)
    if run is None or not run.is_active:
        # Finished: the violations, counts and charts below the panel are stale, so reload the page.
        response.status_code = STOP_POLLING
        response["HX-Refresh"] = "true"
    return response


@require_POST
@admin_required
def scan_settings(request, site_id: int):
    site = _site(request, site_id)
    instance = ScanSettings.objects.filter(site=site).first() or ScanSettings(site=site)
    form = ScanSettingsForm(request.POST, instance=instance)
    if not form.is_valid():
        return _panel(request, site, status=400, form=form)
    services.scan_settings_save(site=site, values=form.cleaned_data)
    messages.success(request, "Scan settings saved.")
    return redirect(f"/sites/{site.pk}/#scanner")


