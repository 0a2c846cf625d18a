"""Keyboard-only walks of the settings flows not covered elsewhere: sync rules with the project
picker, and the organization's time zone. Every stop shows its focus; nothing needs a pointer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from allyproof.integrations.jira.models import SiteSyncRule
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.jira_helpers import connect_org, served_sandbox  # noqa: F401
from tests.support.a11y import assert_focus_visible, tab_until
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_keyboard_only_route_a_site_to_a_project_from_the_list(browser_page, live_server, served_sandbox, org, site,
                                                              admin_user):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    connect_org(admin_user, served_sandbox)
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + "/settings/integrations/")
    options = page.locator("datalist#jira-projects option")
    expect(options).to_have_count(3)  # the projects the connection can create issues in, from Jira
    assert options.evaluate_all("os => os.map(o => o.value)") == ["ACME", "WEB", "BETA"]
    assert_no_axe_violations(page)
    tab_until(page, lambda d: focused_id(page) == f"site-{site.pk}-enabled")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert focused_id(page) == f"site-{site.pk}-project"
    assert page.evaluate("document.activeElement.list && document.activeElement.list.id") == "jira-projects"
    page.keyboard.type("WEB")
    tab_until(page, lambda d: d == "Save sync rules")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Sync rules saved.")
    rule = SiteSyncRule.objects.get(site=site)
    assert (rule.enabled, rule.project_key, rule.issue_type_name) == (True, "WEB", "Bug")
    # Now the row's issue type is chosen from WEB's types, by keyboard.
    tab_until(page, lambda d: focused_id(page) == f"site-{site.pk}-issue_type")
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    assert page.locator(f"#site-{site.pk}-issue_type option").all_inner_texts() == ["Default", "Bug", "Task"]
    page.keyboard.press("ArrowDown")  # Bug -> Task
    tab_until(page, lambda d: d == "Save sync rules")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Sync rules saved.")
    assert SiteSyncRule.objects.get(site=site).issue_type_name == "Task"
    assert_no_axe_violations(page)
    # Picking another project offers that project's types at once (BETA has no Bug).
    key = page.get_by_label("Jira project key for ACME Dental", exact=True)
    key.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("BETA")
    page.keyboard.press("Tab")
    expect(page.locator(f"#site-{site.pk}-issue_type option")).to_have_text(["Default", "Task", "Story"])
    expect(page.locator(f"#site-{site.pk}-issue_type")).to_have_value("Task")  # still valid there: kept


def test_keyboard_only_set_the_time_zone(browser_page, live_server, org, site, admin_user):
    factories.ingest(site, factories.axe_fixture("single_page__home.json"))
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + "/settings/organization/")
    assert page.locator("datalist#time-zones option[value='Europe/Paris']").count() == 1
    tab_until(page, lambda d: focused_id(page) == "id_time_zone")
    page.keyboard.press("Control+A")
    page.keyboard.type("Mars/Olympus")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Mars/Olympus is not a time zone we know (use a name like Europe/Paris).")
    expect(alert).to_be_focused()
    assert page.url == live_server.url + "/settings/organization/"
    assert_no_axe_violations(page)
    page.keyboard.press("Shift+Tab")
    assert focused_id(page) == "id_time_zone"
    page.keyboard.press("Control+A")
    page.keyboard.type("Asia/Tokyo")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved. Times are now shown in Asia/Tokyo.")
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    expect(page.locator("main time.when").first).to_contain_text(" Asia/Tokyo")
