"""The push UI where a person could be misled: the open picker and a slow single push.

As in test_jira_push_browser, no Huey consumer runs: the test runs a queued job itself, the way the
worker would, while the page is not using the (shared, in-memory on SQLite) database.
"""

import pytest
from playwright.sync_api import expect

from allyproof.integrations.jira.models import JiraLink, PushJob
from tests.browser.conftest import sign_in
from tests.browser.jira_helpers import run_queued_jobs, served_sandbox  # noqa: F401
from tests.jira.conftest import budget  # noqa: F401
from tests.browser.test_jira_push_browser import routed, row_labels, run_job_and_wait_for_outcome, scanned  # noqa: F401
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visible_buttons(block) -> list[str]:
    return block.locator("button").evaluate_all(
        "buttons => buttons.filter(b => b.checkVisibility()).map(b => b.innerText.trim())")


def test_open_picker_has_one_primary_action_and_every_button_pushes_only_the_ticked_rows(
        browser_page, live_server, routed, scanned, admin_user, served_sandbox):
    page = browser_page
    total = scanned.violations.count()
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/")
    block = page.locator("#jira-sync")
    assert visible_buttons(block) == [f"Push {total} to ACME"]  # collapsed: the bulk button is the action
    block.get_by_text("Choose violations").click()
    checklist = block.locator(".checklist")
    expect(checklist.get_by_role("checkbox")).to_have_count(total)

    skipped = [scanned.violations.get(rule_id=rule) for rule in ("image-alt", "region", "color-contrast")]
    for violation in skipped:
        checklist.get_by_role("checkbox", name=violation.help).uncheck()
    expect(block.locator("[data-picker-submit]")).to_have_text(f"Push {total - 3} selected")
    # Open: the checklist's own button is the only one a person can see, reach by keyboard or click.
    assert visible_buttons(block) == [f"Push {total - 3} selected"]
    expect(block.get_by_role("button", name=f"Push {total} to ACME")).to_have_count(0)  # not in the a11y tree
    assert_no_axe_violations(page)

    # Try every button a person can see, in page order, while each is still there.
    for index in range(block.locator("button").count()):
        button = block.locator("button").nth(index)
        if button.count() and button.is_visible():
            button.click()
            break  # the block swapped to live progress: nothing else to press
    expect(block.get_by_role("status")).to_contain_text(f"Pushing to ACME: 0 of {total - 3} done.")
    job = run_job_and_wait_for_outcome(page, f"Pushed {total - 3} to ACME.")
    assert job.kind == PushJob.Kind.PICKED
    assert job.items.count() == total - 3
    pushed = JiraLink.objects.filter(status="linked")
    assert set(pushed.values_list("violation_id", flat=True)) == set(
        scanned.violations.exclude(pk__in=[v.pk for v in skipped]).values_list("pk", flat=True))
    assert len(served_sandbox.issues(None)) == total - 3  # the sandbox's own count: nothing unticked went out
    assert row_labels(served_sandbox) == {link.label for link in pushed}
    expect(page.locator("#jira-sync")).to_contain_text("3 violations ready to push to ACME.")


def test_closing_the_picker_brings_the_bulk_button_back(browser_page, live_server, routed, scanned, admin_user):
    page = browser_page
    total = scanned.violations.count()
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/")
    block = page.locator("#jira-sync")
    summary = block.get_by_text("Choose violations")
    summary.click()
    expect(block.locator("[data-picker-submit]")).to_have_text(f"Push {total} to ACME")
    assert visible_buttons(block) == [f"Push {total} to ACME"]  # the picker's, all ticked
    assert block.locator("[data-collapsed-push]").is_hidden()
    summary.click()
    expect(block.locator("[data-collapsed-push]")).to_be_visible()
    assert visible_buttons(block) == [f"Push {total} to ACME"]  # the collapsed one again
    assert block.locator("[data-picker-submit]").is_hidden()


# --- a single push on a slow Jira ---------------------------------------------------------------------------


def test_a_slow_jira_shows_pushing_then_the_key_without_a_reload_and_focus_stays(
        browser_page, live_server, routed, scanned, admin_user, served_sandbox, budget):
    budget(300)  # JIRA_PUSH_WAIT_MS: no worker has finished by then (none runs until the test runs the job)
    served_sandbox.faults.add(kind="latency", method="POST", path=r"/rest/api/3/issue$", seconds=1.0)
    page = browser_page
    violation = scanned.violations.get(rule_id="image-alt")
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/violations/{violation.pk}/")
    page.evaluate("window.__sameDocument = true")
    live = page.locator("[aria-live=polite]:has(#jira-push)")
    expect(live).to_have_count(1)  # the region outlives the swaps, so both changes are announced

    page.get_by_role("button", name="Push to Jira").focus()
    page.keyboard.press("Enter")
    pushing = page.locator("#jira-push").get_by_role("button", name="Pushing…")
    expect(pushing).to_be_visible()
    expect(pushing).to_have_attribute("aria-disabled", "true")
    expect(pushing).to_be_focused()  # the replacement of the button that was pressed
    assert not served_sandbox.issues(None)
    assert_no_axe_violations(page)

    held = []  # the page's next poll waits at the browser while the worker (this test) pushes
    page.route("**/jira/?watch=*", lambda route: held.append(route))
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the Pushing… button did not poll"
    expect(pushing).to_be_visible()  # still saying so while Jira is slow
    job = PushJob.objects.get(kind=PushJob.Kind.SINGLE)
    run_queued_jobs()  # the worker's part, against the slow sandbox
    job.refresh_from_db()
    assert job.status == PushJob.Status.COMPLETED
    held[0].continue_()
    page.unroute("**/jira/?watch=*")

    link = page.locator("#jira-push").get_by_role("link", name="ACME-1")
    expect(link).to_be_visible()
    expect(page.locator("#jira-push")).to_contain_text("In Jira: ACME-1")
    expect(page.locator("#jira-push").get_by_role("status")).to_have_text("Created ACME-1.")
    expect(link).to_be_focused()  # focus followed the swap, never dropped to the page
    expect(live).to_contain_text("In Jira: ACME-1")
    assert page.evaluate("window.__sameDocument === true")  # no reload
    assert [issue["key"] for issue in served_sandbox.issues(None)] == ["ACME-1"]
    assert JiraLink.objects.get(violation=violation).issue_key == "ACME-1"
    expect(page.locator("#jira-push [hx-trigger]")).to_have_count(0)  # polling has stopped
    assert_no_axe_violations(page)
