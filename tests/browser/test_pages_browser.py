"""Every page in a real browser, each checked with axe-core: no violations on our own pages."""

import pytest

from allyproof.monitoring.models import Violation
from tests import factories
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(org, site, member_user, admin_user, other_org):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    factories.site(org, "BetaCorp", "https://www.betacorp.example/")
    factories.member(other_org, member_user.email, "member")  # two organizations: the switcher shows
    return {"site": site, "violation": site.violations.get(rule_id="image-alt")}


def test_sign_in_page_is_accessible_and_rejects_a_wrong_password(browser_page, live_server, member_user):
    browser_page.goto(live_server.url + "/sites/")
    assert "/accounts/login/" in browser_page.url
    assert_no_axe_violations(browser_page)
    browser_page.get_by_label("Email").fill(member_user.email)
    browser_page.get_by_label("Password").fill("wrong")
    browser_page.get_by_role("button", name="Sign in").click()
    assert browser_page.get_by_role("alert").inner_text().startswith("Your email and password didn't match")
    assert_no_axe_violations(browser_page)


def test_sites_list(world, signed_in, live_server, admin_user):
    page = signed_in(admin_user)
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 2
    assert page.get_by_role("link", name="ACME Dental").is_visible()
    assert page.get_by_role("heading", name="Add a site").is_visible()  # admins can add sites
    assert_no_axe_violations(page)


def test_member_does_not_see_add_site(world, signed_in, member_user):
    page = signed_in(member_user)
    assert page.get_by_role("heading", name="Add a site").count() == 0


def test_site_page_sorts_and_filters(world, signed_in, live_server, member_user):
    page = signed_in(member_user)
    page.get_by_role("link", name="ACME Dental").click()
    page.wait_for_url("**/sites/*/")
    badges = page.locator("#violations tbody .badge").all_inner_texts()
    assert badges[0] == "Critical" and badges[-1] in ("Minor", "Moderate")
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Impact").click()  # toggles to least severe first
    page.wait_for_url("**sort=-impact")
    assert page.locator("#violations tbody .badge").first.inner_text() == "Minor"
    assert page.locator("th[aria-sort=ascending]").count() == 1
    page.get_by_role("link", name="Resolved (0)").click()
    assert page.get_by_text("No resolved violations.").is_visible()
    assert_no_axe_violations(page)


def test_violation_detail_and_mark_resolved(world, signed_in, live_server, member_user):
    page = signed_in(member_user)
    site, violation = world["site"], world["violation"]
    page.goto(f"{live_server.url}/sites/{site.pk}/violations/{violation.pk}/")
    assert page.get_by_role("heading", level=1).inner_text() == violation.help
    assert page.get_by_role("heading", name="Sample elements").is_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Mark resolved").click()
    assert page.get_by_role("status").inner_text() == "Marked resolved."
    assert page.get_by_role("button", name="Reopen").is_visible()
    violation.refresh_from_db()
    assert violation.status == Violation.Status.RESOLVED
    assert_no_axe_violations(page)


def test_upload_form_imports_and_reports_errors(world, signed_in, live_server, member_user, tmp_path):
    page = signed_in(member_user)
    beta = world["site"].organization.sites.get(name="BetaCorp")
    site_url = f"{live_server.url}/sites/{beta.pk}/"
    page.goto(site_url)
    # Never scanned is not a clean result (issue 12, case 7).
    assert page.locator("#violations-section").inner_text().endswith(
        "Not scanned yet: import axe-core results below to see this site's violations.")
    assert page.get_by_text("No open violations.").count() == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"url": "https://www.betacorp.example/"}')
    page.get_by_label("axe-core results (JSON)").set_input_files(str(bad))
    page.get_by_role("button", name="Import scan").click()
    alert = page.get_by_role("alert")
    assert "missing the 'violations' list" in alert.inner_text()
    # Issue 12, case 3: the error is next to the control, has focus (so it is on screen), same URL.
    page.wait_for_load_state()
    assert page.url == site_url
    assert alert.evaluate("el => el === document.activeElement")
    assert alert.evaluate("el => el.closest('.field').contains(document.getElementById('id_results'))")
    assert alert.evaluate("el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    assert_no_axe_violations(page)
    good = tmp_path / "good.json"
    good.write_bytes(factories.axe_fixture("multi_page__site.json"))
    page.get_by_label("axe-core results (JSON)").set_input_files(str(good))
    page.get_by_role("button", name="Import scan").click()
    assert page.get_by_role("status").inner_text().startswith("Scan imported: 6 pages")
    assert page.locator("#violations tbody tr").count() == beta.violations.count() > 0


def test_scans_list(world, signed_in, live_server, member_user):
    page = signed_in(member_user)
    page.get_by_role("link", name="Scans").click()
    page.wait_for_url("**/scans/")
    assert page.locator("table.data tbody tr").count() == 1
    assert_no_axe_violations(page)


def test_organization_switcher(world, signed_in, live_server, member_user, other_org):
    page = signed_in(member_user)
    page.get_by_label("Organization").select_option(label=other_org.name)
    page.get_by_role("button", name="Switch").click()
    assert page.get_by_text("No sites yet.").is_visible()
    assert_no_axe_violations(page)


def test_not_found_and_no_organization_pages(browser_page, live_server, world, member_user):
    from tests.browser.conftest import sign_in

    lonely = factories.user("lonely@nowhere.test")
    sign_in(browser_page, live_server, member_user.email)
    browser_page.goto(live_server.url + "/sites/999999/")
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert_no_axe_violations(browser_page)
    browser_page.context.clear_cookies()
    browser_page.goto(live_server.url + "/accounts/login/")
    browser_page.get_by_label("Email").fill(lonely.email)
    browser_page.get_by_label("Password").fill(factories.PASSWORD)
    browser_page.get_by_role("button", name="Sign in").click()
    assert "don't belong to an organization" in browser_page.get_by_role("heading", level=1).inner_text()
    assert_no_axe_violations(browser_page)
