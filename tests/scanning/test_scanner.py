"""The scanner against a local test site: what it scans, what it skips and why, and that what it finds
is exactly what axe-core finds when run directly on the same pages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from allyproof.monitoring.models import Scan, Violation
from allyproof.scanning import engine, runner, services
from allyproof.scanning.models import ScanPage, ScanRun, ScanSettings
from tests import factories
from tests.support.browser import axe_results, launch_browser

from .demo_pages import calendar, routes
from .sites import CalendarSite

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def _scan(site, overrides, **settings):
    ScanSettings.objects.update_or_create(site=site, defaults=settings)
    run = services.scan_request(site=site, source="manual")
    return runner.scan_run_execute(run_id=run.pk, overrides=overrides)


@pytest.fixture
def test_site():
    with CalendarSite({}, calendar) as served:
        served.routes.update(routes(served.url))
        yield served


def _pages(run):
    return {urlsplit(p.url).path + (f"?{urlsplit(p.url).query}" if urlsplit(p.url).query else ""): p
            for p in ScanPage.objects.filter(run=run)}


def _signature(result):
    return sorted((v["id"], v["impact"], len(v["nodes"])) for v in result["violations"])


def test_scan_outcomes_per_page(org, test_site, overrides):
    site = factories.site(org, base_url=test_site.url + "/")
    run = _scan(site, overrides, exclude_patterns="/private/*", page_cap=20, depth_cap=30)

    assert run.status == ScanRun.Status.COMPLETED, run.error
    pages = _pages(run)
    scanned = {path for path, page in pages.items() if page.status == "scanned"}
    assert {"/", "/about", "/from-sitemap", "/dialog", "/shadow-target", "/calendar?month=1"} <= scanned
    assert pages["/loop"].status == "failed" and "redirect loop" in pages["/loop"].reason
    assert (pages["/boom"].status, pages["/boom"].reason) == ("failed", "HTTP 500")
    assert pages["/slow"].status == "failed" and pages["/slow"].reason == "did not finish loading within 4 s"
    assert (pages["/pdf"].status, pages["/pdf"].reason) == ("skipped", "not HTML (application/pdf)")
    assert "alert dialog was dismissed" in pages["/dialog"].reason
    # Excluded by pattern, by robots.txt, and the #team fragment is the same page as /about.
    assert "/private/area" not in test_site.requests and "/secret" not in test_site.requests
    assert test_site.requests.count("/about") == 1
    # The endless calendar stops at the page cap.
    assert run.pages_found == 20 and len(pages) == 20

    scan = Scan.objects.get(pk=run.scan_id)
    assert (scan.status, scan.source, scan.pages_scanned, scan.pages_failed) == ("completed", "manual", run.pages_scanned, 3)
    assert scan.axe_version == "4.12.1"
    assert len(scan.covered_pages) == run.pages_scanned
    image_alt = Violation.objects.get(site=site, rule_id="image-alt")
    # The home page's <img> and the one inside the shadow root; the dialog page's <img>.
    assert image_alt.element_count == 3 and image_alt.page_count == 2
    button = Violation.objects.get(site=site, rule_id="button-name")  # only inside the iframe
    assert any(len(s["target"]) == 2 for s in button.samples)


def _axe_directly(urls: list[str], options: dict) -> dict[str, dict]:
    """axe-core run straight on each page, in a Playwright session of its own: the scan ran its own
    asyncio loop in this thread, and a sync Playwright session must not share a thread with that."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            page = browser.new_page()
            found = {}
            for url in urls:
                page.goto(url, wait_until="load")
                found[url] = axe_results(page, options=options)
            return found
        finally:
            browser.close()


def test_found_violations_match_axe_run_directly(org, test_site, overrides):
    site = factories.site(org, base_url=test_site.url + "/")
    run = _scan(site, overrides, exclude_patterns="/private/*\n/calendar*", page_cap=30)
    plan = runner.plan_for(run, overrides)
    scanned = {page.url: page.result for page in ScanPage.objects.filter(run=run, status="scanned")}
    with ThreadPoolExecutor(max_workers=1) as pool:
        direct = pool.submit(_axe_directly, list(scanned), plan.axe_options).result()
    for url, result in scanned.items():
        assert _signature(result) == _signature(direct[url]), url
    assert len(scanned) >= 5
    assert engine.WCAG_TAGS == ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


def test_robots_switch_and_include_patterns(org, test_site, overrides):
    site = factories.site(org, base_url=test_site.url + "/")
    run = _scan(site, overrides, include_patterns="/secret\n/about", respect_robots=False)
    assert set(_pages(run)) == {"/", "/secret", "/about"}


def test_best_practices_switch_adds_best_practice_rules(org, test_site, overrides):
    site = factories.site(org, base_url=test_site.url + "/")
    _scan(site, overrides, include_patterns="/about", best_practices=False)
    without = set(Violation.objects.filter(site=site).values_list("rule_id", flat=True))
    _scan(site, overrides, include_patterns="/about", best_practices=True)
    with_bp = set(Violation.objects.filter(site=site).values_list("rule_id", flat=True))
    added = with_bp - without
    assert without <= with_bp and added
    for violation in Violation.objects.filter(site=site, rule_id__in=added):
        assert "best-practice" in violation.tags


def test_unreachable_start_page_fails_the_scan_with_the_reason(org, overrides):
    site = factories.site(org, base_url="http://127.0.0.1:9/")  # discard port: nothing listens
    run = _scan(site, overrides)
    assert run.status == ScanRun.Status.FAILED
    assert "refused the connection" in run.error
    assert Scan.objects.get(pk=run.scan_id).status == Scan.Status.FAILED
