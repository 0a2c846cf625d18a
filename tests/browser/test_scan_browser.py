"""Scanning in a real browser: Scan now, live progress, the scan's diff page; a schedule firing on the
injected clock. The scan runs as the real Huey task, taken from the real queue by the test."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from huey.contrib.djhuey import HUEY

from allyproof.core import clock
from allyproof.scanning import tasks
from allyproof.scanning.models import ScanRun, ScanSettings
from tests import factories
from tests.scanning.sites import ServedSite, html, slow
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client_site():
    with ServedSite({}) as served:
        served.routes.update({
            "/": html('<h1>Client</h1><img src="/a.png"><a href="/contact">Contact</a> <a href="/slow">Slow</a>'),
            "/contact": html('<h1>Contact</h1><input type="text" name="email">'),
            "/slow": slow(3, html("<h1>Slow</h1>")),
            "/a.png": (200, {"Content-Type": "image/png"}, b""),
        })
        yield served


@pytest.fixture
def queue():
    HUEY.flush()
    yield HUEY
    HUEY.flush()


def run_next_task(huey) -> threading.Thread:
    """The worker's part: take the next task off the real queue and run it (in its own thread)."""
    task = huey.dequeue()
    assert task is not None and task.name.endswith("run_scan_task")
    worker = threading.Thread(target=huey.execute, args=(task,))
    worker.start()
    return worker


def test_scan_now_progress_and_the_diff_page(org, member_user, client_site, queue, signed_in, live_server):
    site = factories.site(org, "Client", client_site.url + "/")
    ScanSettings.objects.create(site=site, requests_per_second=20)
    page = signed_in(member_user)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Scan now").click()
    page.get_by_text("Scan queued").wait_for()
    assert_no_axe_violations(page)  # the progress state

    worker = run_next_task(queue)
    page.get_by_text("Scan running").wait_for(timeout=20_000)  # the panel polls: no reload
    assert page.get_by_label("Scan progress").is_visible()
    page.get_by_text("Last scan completed").wait_for(timeout=60_000)
    worker.join(timeout=60)
    run = ScanRun.objects.get(site=site)
    assert (run.status, run.pages_scanned, run.requested_by) == ("completed", 3, member_user)
    assert_no_axe_violations(page)

    page.get_by_role("link", name="See what changed in this scan").click()
    page.wait_for_url("**/scans/*/")
    found = site.violations.count()
    assert found >= 2 and page.get_by_role("heading", name=f"New ({found})").is_visible()
    assert page.get_by_role("link", name="Images must have alternative text").is_visible()
    assert page.get_by_role("heading", name="Fixed (0)").is_visible()
    assert_no_axe_violations(page)

    page.goto(f"{live_server.url}/scans/")
    row = page.locator("tbody tr").first
    assert "Manual" in row.inner_text() and " s" in row.inner_text()
    assert_no_axe_violations(page)


def test_cancel_a_queued_scan(org, member_user, client_site, queue, signed_in, live_server):
    site = factories.site(org, "Client", client_site.url + "/")
    page = signed_in(member_user)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    page.get_by_role("button", name="Scan now").click()
    page.get_by_role("button", name="Cancel scan").click()
    page.get_by_text("Last scan cancelled").wait_for()
    assert ScanRun.objects.get(site=site).status == "cancelled"
    assert client_site.requests == []


def test_a_schedule_fires_on_the_injected_clock(org, admin_user, client_site, queue, signed_in, live_server):
    site = factories.site(org, "Client", client_site.url + "/")
    page = signed_in(admin_user)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    page.get_by_text("Scan settings", exact=True).click()
    page.get_by_label("Scheduled scans").select_option("daily")
    page.get_by_label("Time (UTC)").fill("09:00")
    page.get_by_label("Most pages per scan").fill("2")
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Save scan settings").click()
    page.get_by_text("Scan settings saved.").wait_for()
    saved = ScanSettings.objects.get(site=site)
    assert (saved.schedule, saved.schedule_time, saved.page_cap) == ("daily", dt.time(9, 0), 2)

    # The first 09:00 after the schedule was saved: today's when saved before 09:00 UTC, else tomorrow's.
    first = dt.datetime.combine(saved.schedule_since.date(), dt.time(9), tzinfo=dt.UTC)
    if first < saved.schedule_since:
        first += dt.timedelta(days=1)
    before, after = first - dt.timedelta(minutes=1), first + dt.timedelta(minutes=1)
    with clock.frozen(before):
        assert tasks.scan_tick.call_local() == {"fired": [], "swept": []}
    with clock.frozen(after):
        fired = tasks.scan_tick.call_local()["fired"]
        assert len(fired) == 1
        assert tasks.scan_tick.call_local()["fired"] == []  # the same slot never fires twice
    run_next_task(queue).join(timeout=90)
    run = ScanRun.objects.get(pk=fired[0])
    assert (run.status, run.source, run.scheduled_for) == ("completed", "scheduled", first)
    page.goto(f"{live_server.url}/scans/")
    assert "Scheduled" in page.locator("tbody tr").first.inner_text()


def test_trend_chart_and_its_table(org, site, member_user, signed_in, live_server):
    from tests.monitoring.test_trends import A, B, T, impact_page

    factories.ingest(site, [impact_page(A, label="serious"), impact_page(B, **{"image-alt": "critical"})], scanned_at=T[0])
    factories.ingest(site, [impact_page(A, label="serious"), impact_page(B)], scanned_at=T[1])
    page = signed_in(member_user)
    assert "1 fewer open than the previous scan" in page.locator("tbody tr").first.inner_text()
    assert_no_axe_violations(page)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    table = page.get_by_role("table", name="Open violations by impact after each scan")
    rows = [row.inner_text().split("\t") for row in table.locator("tbody tr").all()]
    assert [r[1:] for r in rows] == [["1", "1", "0", "0", "2"], ["0", "1", "0", "0", "1"]]
    chart = page.get_by_role("img", name="Stacked bar chart of open violations by impact after each scan; "
                                          "the figures are in the table beside it.")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    assert_no_axe_violations(page)
