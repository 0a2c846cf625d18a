"""Reads for scanning. Callers have already checked access to the site."""

from __future__ import annotations

from dataclasses import dataclass

from allyproof.core import clock

from .models import ScanPage, ScanRun


def latest_run(*, site) -> ScanRun | None:
    return ScanRun.objects.filter(site=site).select_related("scan").order_by("-created_at", "-pk").first()


def run_get(*, site, run_id: int) -> ScanRun | None:
    return ScanRun.objects.filter(site=site, pk=run_id).select_related("scan").first()


@dataclass(frozen=True)
class Progress:
    found: int
    done: int
    scanned: int
    failed: int
    skipped: int
    percent: int
    seconds_left: int | None  # None until there is a rate to estimate from


def progress(run: ScanRun) -> Progress:
    found, done = run.pages_found, run.pages_done
    seconds_left = None
    if run.started_at and done and run.is_active:
        elapsed = (clock.now() - run.started_at).total_seconds()
        seconds_left = max(0, round(elapsed / done * max(0, found - done)))
    percent = 100 if not run.is_active else (min(99, round(100 * done / found)) if found else 0)
    return Progress(found, done, run.pages_scanned, run.pages_failed, run.pages_skipped, percent, seconds_left)


def problem_pages(run: ScanRun, limit: int = 200) -> list[ScanPage]:
    return list(ScanPage.objects.filter(run=run).exclude(status=ScanPage.Status.SCANNED).defer("result")[:limit])
