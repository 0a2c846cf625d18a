"""Runs one scan: the engine crawls in its own thread and event loop; this thread writes the rows.

Django's ORM stays in the calling thread (a Huey worker, the management command, a test), so the
engine never touches the database and the ORM never runs inside an event loop.
"""

from __future__ import annotations

import json
import logging
import queue
import tempfile
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError

from allyproof.core import clock
from allyproof.monitoring import services as monitoring
from allyproof.monitoring.axe import AxeResultsError
from allyproof.monitoring.models import Scan

from . import browser, discovery, engine
from .models import ScanPage, ScanRun, ScanSettings
from .policy import AddressPolicy

log = logging.getLogger(__name__)
CANCEL_CHECK_SECONDS = 1.0


@dataclass
class Overrides:
    """What tests and benchmarks choose instead of the configuration (a resolver, a browser)."""

    policy: AddressPolicy | None = None
    executable: str | None = None
    concurrency: int | None = None
    extra: dict = field(default_factory=dict)


def policy_from_config() -> AddressPolicy:
    config = settings.CONFIG
    return AddressPolicy(allow_private=config.scan_allow_private, allow_loopback=not config.is_production)


def plan_for(run: ScanRun, overrides: Overrides, done: dict | None = None) -> engine.Plan:
    scan_settings, _ = ScanSettings.objects.get_or_create(site=run.site)
    rules = discovery.CrawlRules(
        start_url=run.site.base_url, include=scan_settings.patterns("include_patterns"),
        exclude=scan_settings.patterns("exclude_patterns"), page_cap=scan_settings.page_cap,
        depth_cap=scan_settings.depth_cap, respect_robots=scan_settings.respect_robots,
        query=scan_settings.query_handling,
    )
    executable = overrides.executable or browser.browser_status().executable
    if executable is None:
        raise RuntimeError(browser.browser_status().problem)
    return engine.Plan(
        rules=rules, policy=overrides.policy or policy_from_config(), executable=executable,
        best_practices=scan_settings.best_practices,
        concurrency=overrides.concurrency or settings.CONFIG.scan_concurrency,
        requests_per_second=scan_settings.requests_per_second, done=done or {}, **overrides.extra,
    )


class _Progress:
    """Applies the engine's events to the run's rows, in the calling thread."""

    def __init__(self, run: ScanRun):
        self.run = run

    def found(self, count: int) -> None:
        self.run.pages_found = max(self.run.pages_found, count)
        self._save("pages_found")

    def page(self, outcome: engine.PageOutcome) -> None:
        try:
            ScanPage.objects.create(run=self.run, url=outcome.url[:2000], depth=outcome.depth, status=outcome.status,
                                    reason=outcome.reason[:300], result=outcome.result, links=outcome.links,
                                    scanned_at=clock.now())
        except IntegrityError:
            return  # a redirect landed on a page already scanned: counted once
        counter = {"scanned": "pages_scanned", "failed": "pages_failed", "skipped": "pages_skipped"}[outcome.status]
        setattr(self.run, counter, getattr(self.run, counter) + 1)
        self._save(counter)

    def _save(self, *fields: str) -> None:
        self.run.heartbeat_at = clock.now()
        ScanRun.objects.filter(pk=self.run.pk).update(heartbeat_at=self.run.heartbeat_at,
                                                      **{name: getattr(self.run, name) for name in fields})

    def cancel_requested(self) -> bool:
        self._save()
        return ScanRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()


def _crawl(plan: engine.Plan, progress: _Progress) -> bool:
    """Runs the engine; returns False when the run was cancelled. Re-raises the engine's failure."""
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            engine.crawl(plan, lambda kind, value: events.put((kind, value)), stop.is_set)
        except BaseException as error:  # noqa: BLE001 (handed to the calling thread)
            failure.append(error)
        finally:
            events.put(("done", None))

    thread = threading.Thread(target=target, name=f"scan-{progress.run.pk}", daemon=True)
    thread.start()
    cancelled = False
    while True:
        try:
            kind, value = events.get(timeout=CANCEL_CHECK_SECONDS)
        except queue.Empty:
            kind, value = "tick", None
        if kind == "done":
            break
        if kind == "found":
            progress.found(value)
        elif kind == "page":
            progress.page(value)
        elif kind == "refused":
            log.warning("scan.request_refused run=%s url=%s reason=%s", progress.run.pk, value[0][:300], value[1])
        if not cancelled and progress.cancel_requested():
            cancelled = True
            stop.set()
    thread.join()
    if failure and not cancelled:
        raise failure[0]
    return not cancelled


def _results_stream(run: ScanRun):
    """The scanned pages as one axe results list, spooled to disk past 8 MB: the upload path's input."""
    stream = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    stream.write(b"[")
    pages = ScanPage.objects.filter(run=run, status=ScanPage.Status.SCANNED).values_list("result", flat=True)
    for index, result in enumerate(pages.iterator(chunk_size=200)):
        stream.write(b"," if index else b"")
        stream.write(json.dumps(result).encode())
    stream.write(b"]")
    stream.seek(0)
    return stream


SOURCES = {"manual": Scan.Source.MANUAL, "scheduled": Scan.Source.SCHEDULED, "command": Scan.Source.COMMAND}


def scan_run_execute(*, run_id: int, overrides: Overrides | None = None) -> ScanRun | None:
    """Runs (or resumes) one queued run to the end. Idempotent: a finished run is left alone."""
    overrides = overrides or Overrides()
    now = clock.now()
    # Only a queued run is claimed: a duplicate task (the sweeper re-enqueued it, Huey retried) finds
    # it running and leaves it to its worker; the sweeper turns a dead worker's run back into queued.
    claimed = ScanRun.objects.filter(pk=run_id, status=ScanRun.Status.QUEUED).update(
        status=ScanRun.Status.RUNNING, heartbeat_at=now)
    run = ScanRun.objects.select_related("site", "scan").filter(pk=run_id).first()
    if not claimed or run is None:
        return run
    run.attempts += 1
    run.started_at = run.started_at or now
    if run.scan is None:
        run.scan = monitoring.scan_start(site=run.site, source=SOURCES[run.source], created_by=run.requested_by)
    ScanRun.objects.filter(pk=run.pk).update(attempts=run.attempts, started_at=run.started_at, scan=run.scan)
    done = {url: (depth, links) for url, depth, links in
            ScanPage.objects.filter(run=run).values_list("url", "depth", "links").iterator()}
    try:
        plan = plan_for(run, overrides, done)
        finished = _crawl(plan, _Progress(run))
    except Exception as error:
        log.exception("scan.failed run=%s", run.pk)
        return _finish(run, ScanRun.Status.FAILED, f"The scan could not run: {error}")
    if not finished:
        return _finish(run, ScanRun.Status.CANCELLED, "Cancelled before it finished; nothing was recorded.")
    return _ingest(run)


def _ingest(run: ScanRun) -> ScanRun:
    run.refresh_from_db()
    if not run.pages_scanned:
        reasons = list(ScanPage.objects.filter(run=run).values_list("url", "reason")[:3])
        detail = "; ".join(f"{url}: {reason}" for url, reason in reasons) or "no pages were found"
        return _finish(run, ScanRun.Status.FAILED, f"No page could be scanned ({detail}).")
    try:
        monitoring.scan_ingest(site=run.site, stream=_results_stream(run), source=run.scan.source, scan=run.scan,
                               pages_failed=run.pages_failed)
    except AxeResultsError as error:
        return _finish(run, ScanRun.Status.FAILED, f"The results could not be recorded: {error}")
    return _finish(run, ScanRun.Status.COMPLETED, "")


def _finish(run: ScanRun, status: str, error: str) -> ScanRun:
    run.status, run.error, run.finished_at = status, error, clock.now()
    run.save(update_fields=["status", "error", "finished_at"])
    if status != ScanRun.Status.COMPLETED and run.scan is not None:
        monitoring.scan_fail(scan=run.scan, error=error)
    log.info("scan.finished run=%s status=%s scanned=%s failed=%s", run.pk, status, run.pages_scanned,
             run.pages_failed)
    return run
