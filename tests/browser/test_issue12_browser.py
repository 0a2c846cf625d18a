"""Issue 12 in a real browser: Settings, the numbered problems fixed, and WCAG 2.2 AA beyond axe-core
(keyboard-only flows, no trap, visible focus, reflow at 320 px, text at 200 %, tooltips per 1.4.13)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from allyproof.accounts.models import ApiToken, Membership
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.jira_helpers import connect_org, save_rule, served_sandbox  # noqa: F401
from tests.support.a11y import (
    assert_focus_visible,
    assert_no_horizontal_scroll,
    assert_no_keyboard_trap,
    assert_text_zooms_without_loss,
    assert_tooltip_meets_1_4_13,
    at_reflow_width,
    tab_until,
)
from tests.jira.conftest import huey_immediate  # noqa: F401  (a prompt worker: the push answers in the request)
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(org, site, admin_user, member_user, served_sandbox):
    """ACME Dental scanned and routed to ACME, one violation already in Jira; BetaCorp never scanned."""
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    beta = factories.site(org, "BetaCorp", "https://www.betacorp.example/")
    connection = connect_org(admin_user, served_sandbox)
    save_rule(connection, site)
    pushed = site.violations.get(rule_id="image-alt")
    push.violation_push(violation=pushed, connection=connection, client=client_for(connection),
                        violation_url=push.absolute_violation_url(pushed))
    org.time_zone = "Europe/Paris"
    org.save(update_fields=["time_zone"])
    return {"site": site, "beta": beta, "connection": connection, "pushed": pushed,
            "other": site.violations.get(rule_id="region")}


def pages(world) -> dict[str, str]:
    site, v = world["site"], world["other"]
    return {
        "sites": "/sites/", "site": f"/sites/{site.pk}/", "never scanned site": f"/sites/{world['beta'].pk}/",
        "violation": f"/sites/{site.pk}/violations/{v.pk}/", "scans": "/scans/",
        "picker page": f"/sites/{site.pk}/jira/picker/", "integrations": "/settings/integrations/",
        "disconnect": "/settings/integrations/jira/disconnect/", "members": "/settings/members/",
        "tokens": "/settings/tokens/", "organization": "/settings/organization/", "support": "/settings/support/",
        "dashboard": "/dashboard/",
    }


PAGE_NAMES = ["sites", "site", "never scanned site", "violation", "scans", "picker page", "integrations",
              "disconnect", "members", "tokens", "organization", "support", "dashboard"]


# --- beyond axe, on every page -------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_reflows_zooms_has_no_trap_and_passes_axe(world, browser_page, live_server, admin_user, name):
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + pages(world)[name])
    assert_no_axe_violations(page)
    assert_no_keyboard_trap(page)
    assert_text_zooms_without_loss(page, 200)
    at_reflow_width(page)
    assert_no_horizontal_scroll(page)
    assert_no_axe_violations(page)


def test_sign_in_page_reflows_and_has_no_trap(browser_page, live_server):
    browser_page.goto(live_server.url + "/accounts/login/")
    assert_no_keyboard_trap(browser_page)
    assert_text_zooms_without_loss(browser_page, 200)
    at_reflow_width(browser_page)
    assert_no_horizontal_scroll(browser_page)
    assert_no_axe_violations(browser_page)


# --- 1. the disabled push button's tooltip (WCAG 1.4.13) ---------------------------------------------


def test_disabled_push_tooltip_is_dismissible_hoverable_persistent_and_covers_nothing(
        world, browser_page, live_server, admin_user):
    page = browser_page
    minor = world["site"].violations.filter(impact="minor").first()
    save_rule(world["connection"], world["site"], severities=("critical",))
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{world['site'].pk}/violations/{minor.pk}/")
    button = page.get_by_role("button", name="Push to Jira")
    tooltip = page.get_by_role("tooltip")
    expect(tooltip).to_be_hidden()
    assert_tooltip_meets_1_4_13(page, button, tooltip)
    assert_no_axe_violations(page)
    at_reflow_width(page)
    assert_tooltip_meets_1_4_13(page, button, tooltip)
    assert_no_horizontal_scroll(page)


# --- 8. words for people ---------------------------------------------------------------------------------


def test_integrations_page_in_words_times_zoned_danger_apart(world, browser_page, live_server, admin_user):
    page = browser_page
    rule = world["site"].jira_rule
    rule.auto_push = True
    rule.save(update_fields=["auto_push"])
    from allyproof.core import clock
    type(rule).objects.filter(pk=rule.pk).update(auto_push_since=clock.now())
    from allyproof.integrations.jira.connection import webhooks
    webhooks.webhook_sync(connection=world["connection"], client=client_for(world["connection"]))
    sign_in(page, live_server, admin_user.email)
    page.get_by_role("link", name="Settings").click()
    jira = page.locator("#jira")
    expect(jira).to_contain_text("Jira tells us about changes in ACME.")
    expect(jira).not_to_contain_text("project IN")
    times = page.locator("time.when").all_inner_texts()
    assert times and all(t.endswith(" Europe/Paris") for t in times), times
    expect(page.locator("#sync-rules")).to_contain_text("since ")
    assert "UTC" not in page.locator("main").inner_text()
    danger = page.get_by_role("region", name="Disconnect")
    expect(danger.get_by_role("link", name="Disconnect Jira")).to_be_visible()
    save_box = page.get_by_role("button", name="Save sync rules").bounding_box()
    danger_box = danger.bounding_box()
    assert danger_box["y"] - (save_box["y"] + save_box["height"]) > 30  # set apart, not right under Save
    assert danger.evaluate("el => getComputedStyle(el).borderTopStyle") == "solid"
    assert_no_axe_violations(page)


def test_info_and_success_messages_look_different(world, browser_page, live_server, admin_user):
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + "/settings/tokens/")
    page.get_by_label("Token name").fill("CI")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Revoke CI").click()
    success_bg = page.locator(".messages .message.success").evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate("""() => { const p = document.createElement('p'); p.className = 'message info'; p.textContent = 'x';
                      document.querySelector('.messages').append(p); }""")
    info_bg = page.locator(".messages .message.info").evaluate("el => getComputedStyle(el).backgroundColor")
    assert success_bg != info_bg


def test_keys_never_wrap_and_created_does_not_look_like_a_button(world, browser_page, live_server, member_user,
                                                                  huey_immediate):
    page = browser_page
    sign_in(page, live_server, member_user.email)
    site, other = world["site"], world["other"]
    page.goto(f"{live_server.url}/sites/{site.pk}/violations/{other.pk}/")
    page.get_by_role("button", name="Push to Jira").click()
    created = page.locator("#jira-push .message")
    expect(created).to_have_text(re.compile(r"^Created ACME-\d+\.$"))
    style = created.evaluate("""el => { const s = getComputedStyle(el);
      return [s.borderTopStyle, s.backgroundColor, s.paddingLeft]; }""")
    assert style == ["none", "rgba(0, 0, 0, 0)", "0px"], style  # text, not a button-like box
    at_reflow_width(page)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    keys = page.locator("#violations .jira-key")
    expect(keys.first).to_be_visible()
    for box in keys.evaluate_all("els => els.map(el => el.getClientRects().length)"):
        assert box == 1  # one line box: the key is not broken
    assert keys.first.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"


# --- 9. history after a disconnect -----------------------------------------------------------------------


def test_history_links_after_disconnect(world, browser_page, live_server, admin_user):
    from allyproof.integrations.jira.connection import lifecycle as connection_service

    link = world["pushed"].jira_links.get()
    connection_service.connection_disconnect(connection=world["connection"], by=admin_user,
                                             delete_webhook=lambda conn: None)
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{world['site'].pk}/violations/{world['pushed'].pk}/")
    was = page.locator("#jira-push").get_by_text("on a previous Jira connection")
    expect(was).to_have_text(f"Was {link.issue_key} on a previous Jira connection.")
    expect(was.get_by_role("link", name=link.issue_key)).to_have_attribute("href", link.issue_url)
    page.goto(f"{live_server.url}/sites/{world['site'].pk}/")
    row = page.locator("#violations tbody tr", has=page.get_by_role("link", name=world["pushed"].help))
    expect(row.get_by_role("link", name=link.issue_key)).to_have_attribute("href", link.issue_url)
    expect(row).to_contain_text("(previous connection)")
    assert_no_axe_violations(page)


# --- 10. members are told why the rules are read-only -----------------------------------------------


def test_members_are_told_why_the_sync_rules_are_read_only(world, browser_page, live_server, member_user):
    page = browser_page
    sign_in(page, live_server, member_user.email)
    page.goto(live_server.url + "/settings/integrations/")
    expect(page.locator("#rules-read-only")).to_have_text(re.compile(
        r"^You can see these rules but not change them: only an owner or admin of Demo Agency can\."))
    expect(page.get_by_role("navigation", name="Settings").get_by_role("link")).to_have_text(["Integrations", "Support"])
    assert_no_axe_violations(page)


# --- Done when: a new colleague, a token, projects, a push, by keyboard alone --------------------------


def test_keyboard_only_invite_a_colleague_who_sets_a_password(world, browser_page, live_server, admin_user):
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + "/settings/members/")
    tab_until(page, lambda d: page.evaluate("document.activeElement.id") == "id_email")
    page.keyboard.type("colleague@demo-agency.test")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_role"
    page.keyboard.press("ArrowUp")  # Member -> Admin (an admin cannot grant Owner, so it is not offered)
    tab_until(page, lambda d: d == "Invite")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Send colleague@demo-agency.test this link")
    expect(heading).to_be_focused()
    assert_focus_visible(page)
    link = page.get_by_label("Set-password link").input_value()
    assert Membership.objects.get(user__email="colleague@demo-agency.test").role == "admin"
    assert_no_axe_violations(page)

    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
    assert_no_axe_violations(page)
    tab_until(page, lambda d: page.evaluate("document.activeElement.id") == "id_new_password1")
    page.keyboard.type("a long new passphrase 42")
    page.keyboard.press("Tab")
    page.keyboard.type("a long new passphrase 42")
    page.keyboard.press("Enter")
    page.wait_for_url("**/sites/")
    expect(page.locator(".user")).to_contain_text("colleague@demo-agency.test")


def test_keyboard_only_make_an_api_token_shown_once(world, browser_page, live_server, admin_user):
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + "/settings/tokens/")
    tab_until(page, lambda d: page.evaluate("document.activeElement.id") == "id_name")
    page.keyboard.press("Enter")  # empty: refused next to the field, which takes focus
    error = page.get_by_role("alert")
    expect(error).to_have_text("This field is required.")
    expect(error).to_be_focused()
    assert page.url == live_server.url + "/settings/tokens/"
    page.keyboard.press("Shift+Tab")  # the message sits right after its field
    assert page.evaluate("document.activeElement.id") == "id_name"
    page.keyboard.type("CI uploads")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Copy your new token now")
    expect(heading).to_be_focused()
    token = page.get_by_label("Token", exact=True).input_value()
    assert token.startswith("ap_") and ApiToken.objects.get(name="CI uploads").prefix in token
    assert_no_axe_violations(page)
    page.goto(live_server.url + "/settings/tokens/")  # a GET: the token is not shown again
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(token)


def test_keyboard_only_bulk_push_keeps_focus_in_the_block_and_announces_the_end(
        world, browser_page, live_server, member_user):
    from tests.browser.test_jira_push_browser import run_job_and_wait_for_outcome

    page = browser_page
    ready = world["site"].violations.count() - 1
    sign_in(page, live_server, member_user.email)
    page.goto(f"{live_server.url}/sites/{world['site'].pk}/")
    tab_until(page, lambda d: d == f"Push {ready} to ACME")
    page.keyboard.press("Enter")
    progress = page.locator("#jira-sync [data-progress]")
    expect(progress).to_contain_text(f"Pushing to ACME: 0 of {ready} done.")
    assert page.evaluate("document.getElementById('jira-sync').contains(document.activeElement)")
    run_job_and_wait_for_outcome(page, f"Pushed {ready} to ACME.")
    expect(page.locator("#jira-sync [data-announce]")).to_be_focused()  # focus never fell to the body
    assert_focus_visible(page)
    assert_no_axe_violations(page)


def test_keyboard_only_single_push_keeps_focus(world, browser_page, live_server, member_user, huey_immediate):
    page = browser_page
    sign_in(page, live_server, member_user.email)
    page.goto(f"{live_server.url}/sites/{world['site'].pk}/violations/{world['other'].pk}/")
    tab_until(page, lambda d: d == "Push to Jira")
    page.keyboard.press("Enter")
    expect(page.locator("#jira-push .message")).to_have_text(re.compile(r"^Created ACME-\d+\.$"))
    assert page.evaluate("document.getElementById('jira-push').contains(document.activeElement)")
    assert_focus_visible(page)
    assert JiraConnection.objects.filter(status="active").exists()
