"""Scan job state lives in our rows: a crashed run is resumed without loading its done pages again, or
failed after three attempts; one active run per site; cancel; the foreground command."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from allyproof.core import clock
from allyproof.monitoring.models import Scan
from allyproof.scanning import runner, services
from allyproof.scanning.models import ScanPage, ScanRun, ScanSettings
from allyproof.scanning.tasks import run_scan_task
from tests import factories

from .sites import ServedSite, html

pytestmark = [pytest.mark.django_db]
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def small_site():
    with ServedSite({}) as served:
        served.routes.update({"/": html('<img src="/x.png"><a href="/two">Two</a>'),
                              "/two": html('<input type="text">'),
                              "/x.png": (200, {"Content-Type": "image/png"}, b"")})
        yield served


def crashed_run(site, *, attempts, heartbeat):
    scan = Scan.objects.create(site=site, status=Scan.Status.RUNNING, source="manual", started_at=heartbeat)
    return ScanRun.objects.create(site=site, scan=scan, status=ScanRun.Status.RUNNING, source="manual",
                                  created_at=heartbeat, started_at=heartbeat, heartbeat_at=heartbeat, attempts=attempts)


@pytest.mark.browser
def test_a_crashed_run_is_resumed_without_loading_its_done_pages_again(org, small_site, overrides,
                                                                      django_capture_on_commit_callbacks):
    site = factories.site(org, base_url=small_site.url + "/")
    run = crashed_run(site, attempts=1, heartbeat=NOW - dt.timedelta(minutes=10))
    done = {"url": small_site.url + "/", "testEngine": {"version": "4.12.1"}, "incomplete": [], "violations": [
        {"id": "image-alt", "impact": "critical", "description": "d", "help": "Images must have alternative text",
         "helpUrl": "", "tags": ["wcag2a"], "nodes": [{"target": ["img"], "html": "<img>", "failureSummary": "f"}]}]}
    ScanPage.objects.create(run=run, url=small_site.url + "/", status="scanned", result=done, scanned_at=NOW,
                            links=[small_site.url + "/two"])  # what the first attempt stored
    ScanRun.objects.filter(pk=run.pk).update(pages_scanned=1, pages_found=2)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.scan_runs_sweep(now=NOW, enqueue=run_scan_task) == [run.pk]
    assert len(queued) == 1  # the run's task, enqueued again after commit
    assert ScanRun.objects.get(pk=run.pk).status == ScanRun.Status.QUEUED
    with clock.frozen(NOW):
        run = runner.scan_run_execute(run_id=run.pk, overrides=overrides)
    assert run.status == ScanRun.Status.COMPLETED and run.attempts == 2
    assert "/" not in small_site.requests and "/two" in small_site.requests  # the done page was not loaded again
    assert set(site.violations.values_list("rule_id", flat=True)) >= {"image-alt", "label"}
    assert Scan.objects.get(pk=run.scan_id).pages_scanned == 2


def test_a_run_that_keeps_crashing_is_failed_with_the_reason(org, site):
    run = crashed_run(site, attempts=3, heartbeat=NOW - dt.timedelta(minutes=10))
    services.scan_runs_sweep(now=NOW, enqueue=run_scan_task)
    run.refresh_from_db()
    assert run.status == ScanRun.Status.FAILED and "stopped responding 3 times" in run.error
    assert run.scan.status == Scan.Status.FAILED


def test_a_fresh_heartbeat_is_left_alone(org, site):
    run = crashed_run(site, attempts=1, heartbeat=NOW - dt.timedelta(seconds=30))
    assert services.scan_runs_sweep(now=NOW, enqueue=run_scan_task) == []
    assert ScanRun.objects.get(pk=run.pk).status == ScanRun.Status.RUNNING


def test_one_active_run_per_site_and_cancel(org, site, member_user):
    run = services.scan_request(site=site, source="manual", requested_by=member_user)
    with pytest.raises(services.ScanAlreadyRunning):
        services.scan_request(site=site, source="manual")
    services.scan_cancel(run=run, by=member_user)
    run.refresh_from_db()
    assert (run.status, run.cancelled_by) == (ScanRun.Status.CANCELLED, member_user)
    assert runner.scan_run_execute(run_id=run.pk).status == ScanRun.Status.CANCELLED  # a late task does nothing
    services.scan_request(site=site, source="manual")  # the site is free again


def test_schedules_fire_once_per_slot(org, site):
    services.scan_settings_save(site=site, values={"schedule": "weekly", "schedule_weekday": 1,
                                                   "schedule_time": dt.time(6)}, now=NOW - dt.timedelta(days=7))
    tuesday = dt.datetime(2026, 12, 1, 6, 5, tzinfo=dt.UTC)
    (fired,) = services.schedules_fire(now=tuesday, enqueue=run_scan_task)
    assert (fired.source, fired.scheduled_for) == ("scheduled", dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC))
    ScanRun.objects.filter(pk=fired.pk).update(status=ScanRun.Status.COMPLETED)
    assert services.schedules_fire(now=tuesday + dt.timedelta(hours=3), enqueue=run_scan_task) == []
    ScanSettings.objects.filter(site=site).update(schedule="off")
    assert services.schedules_fire(now=tuesday + dt.timedelta(days=7), enqueue=run_scan_task) == []


@pytest.mark.browser
def test_the_command_scans_in_the_foreground_and_prints_a_summary(org, small_site, capsys, settings):
    site = factories.site(org, base_url=small_site.url + "/")
    call_command("allyproof_scan", "--site", str(site.pk))
    out = capsys.readouterr().out
    assert "Scan completed: 2 pages scanned, 0 failed, 0 skipped (of 2 found)." in out
    assert "new, 0 reopened, 0 fixed (axe-core 4.12.1)" in out
    assert ScanRun.objects.get(site=site).source == "command"
    home = ScanPage.objects.get(url=small_site.url + "/")
    assert home.links == [small_site.url + "/two"]  # kept, so a resumed scan can follow them
    assert Scan.objects.get(site=site).source == Scan.Source.COMMAND


def test_the_command_says_what_is_wrong(db):
    with pytest.raises(CommandError, match="No site with id 999"):
        call_command("allyproof_scan", "--site", "999")
