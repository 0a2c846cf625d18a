"""What the scanner shows on monitoring's pages (declared in allyproof.core.plugs)."""

from __future__ import annotations

from allyproof.core import clock
from allyproof.core.plugs import Panel

from . import browser, schedule, selectors
from .forms import ScanSettingsForm
from .models import ScanRun, ScanSettings


def site_panel_context(request, site, form=None) -> dict:
    status = browser.browser_status()
    scan_settings = ScanSettings.objects.filter(site=site).first() or ScanSettings(site=site)
    run = selectors.latest_run(site=site)
    return {
        "site": site,
        "run": run,
        "progress": selectors.progress(run) if run else None,
        "browser": status,
        "install_command": browser.INSTALL_COMMAND,
        "settings": scan_settings,
        "next_scheduled": schedule.next_slot(schedule=scan_settings.schedule, at=scan_settings.schedule_time,
                                             weekday=scan_settings.schedule_weekday, now=clock.now()),
        "form": form or (ScanSettingsForm(instance=scan_settings) if request.membership.is_admin else None),
    }


def scan_panel_context(request, scan) -> dict:
    run = ScanRun.objects.filter(scan=scan).first()
    return {"run": run, "problem_pages": selectors.problem_pages(run) if run else []}


SITE_PANEL = Panel(template="scanning/_site_panel.html", context=site_panel_context)
SCAN_PANEL = Panel(template="scanning/_scan_pages.html", context=scan_panel_context)
