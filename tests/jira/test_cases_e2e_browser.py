"""Issue 8's cases 5 (the picker) and 8 (a slow single push) in a real browser, end to end: the sandbox
served as its own process, a real Huey consumer doing the push, the live server and the worker on one
PostgreSQL database (an in-memory SQLite one cannot be shared with another process).

Marked `postgres`: CI's SQLite pass deselects it and its PostgreSQL pass, which skips only tests/browser,
runs it with Chromium required. Nothing here runs a job in the test process: the page shows what the
worker's rows say while the worker pushes, and the sandbox's own list of issues is the count at the end.
"""

import re

import httpx
import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from allyproof.integrations.jira.models import JiraLink, PushJob
from jira_sandbox import DEMO_AGENCY_ID
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.jira_helpers import save_rule
from tests.jira.conftest import connect, empty_queue
from tests.jira.served import Consumers, real_http
from tests.jira.test_cases_e2e import ISSUE, control, creates, served  # noqa: F401
from tests.services import require_postgres

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SKIPPED = ("image-alt", "region", "color-contrast")  # the rows the person unticks in the picker
DONE = 60_000  # ms: long enough for a loaded machine; a wait, not an assertion about speed


@pytest.fixture
def world(live_server, client, admin_user, org, settings, served):
    """Connected to the served sandbox, ACME Dental's real scan routed to ACME, one Huey consumer running."""
    require_postgres()
    empty_queue()
    settings.CONFIG = settings.CONFIG.replace(atlassian_auth_url=served, atlassian_api_url=served,
                                              public_url=live_server.url)
    with real_http(), Consumers(served, ALLYPROOF_PUBLIC_URL=live_server.url) as consumers:  # the live server too
        client.force_login(admin_user)
        connection = connect(client, None)
        site = factories.site(org, "ACME Dental", "https://www.acme-dental.example/")
        factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
        save_rule(connection, site)
        consumers.start()
        yield {"url": served, "site": site, "admin": admin_user}


def jira_issues(world) -> list[dict]:
    """The sandbox's own list of the site's live issues (key, labels, status)."""
    response = httpx.get(f"{world['url']}/_sandbox/sites/{DEMO_AGENCY_ID}/issues", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def ours(issues) -> list[str]:
    return [label for issue in issues for label in issue["labels"] if label.startswith("allyproof-")]


def visible_buttons(block) -> list[str]:
    return block.locator("button").evaluate_all(
        "buttons => buttons.filter(b => b.checkVisibility()).map(b => b.innerText.trim())")


def mark_page(page) -> None:
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads


def same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_5_the_picker_pushes_only_the_ticked_rows_and_shows_the_workers_progress(browser_page, live_server, world):
    site, page = world["site"], browser_page
    total = site.violations.count()
    ticked = total - len(SKIPPED)
    # Slow creates, so the worker is visibly part-way when the block polls (every second).
    control(world, "faults", {"kind": "latency", "method": "POST", "path": ISSUE, "seconds": 0.3, "count": 100})
    sign_in(page, live_server, world["admin"].email)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    mark_page(page)
    block = page.locator("#jira-sync")
    block.get_by_text("Choose violations").click()
    checklist = block.locator(".checklist")
    expect(checklist.get_by_role("checkbox")).to_have_count(total)
    skipped = [site.violations.get(rule_id=rule) for rule in SKIPPED]
    for violation in skipped:
        checklist.get_by_role("checkbox", name=violation.help).uncheck()
    expect(block.locator("[data-picker-submit]")).to_have_text(f"Push {ticked} selected")
    assert visible_buttons(block) == [f"Push {ticked} selected"]  # the open checklist's is the only action
    block.get_by_role("button", name=f"Push {ticked} selected").click()

    progress = block.locator("[data-progress]")
    expect(progress).to_contain_text(f" of {ticked} done.")
    part_way = "|".join(str(n) for n in range(1, ticked))
    expect(progress).to_have_text(re.compile(rf"^Pushing to ACME: ({part_way}) of {ticked} done\."), timeout=DONE)
    expect(block.locator("[data-announce]")).to_have_text(f"Pushed {ticked} to ACME.", timeout=DONE)
    expect(page.locator("#announcer")).to_have_text(f"Pushed {ticked} to ACME.")
    expect(page.locator("#violations .jira-key").first).to_be_visible()  # the table reloaded in place
    assert same_document(page)
    expect(block).to_contain_text(f"{len(SKIPPED)} violations ready to push to ACME.")

    job = PushJob.objects.get()
    assert (job.kind, job.status, job.items.count()) == (PushJob.Kind.PICKED, PushJob.Status.COMPLETED, ticked)
    links = JiraLink.objects.filter(status=JiraLink.Status.LINKED)
    assert set(links.values_list("violation_id", flat=True)) == set(
        site.violations.exclude(pk__in=[v.pk for v in skipped]).values_list("pk", flat=True))
    labels = ours(jira_issues(world))
    assert len(labels) == len(set(labels)) == ticked  # exactly one issue per ticked row, none for the others
    assert set(labels) == {link.label for link in links}
    assert len(creates(world)) == ticked  # no create was ever sent for an unticked row


def test_8_a_slow_jira_shows_pushing_then_the_workers_key_without_a_reload(browser_page, live_server, world):
    assert django_settings.CONFIG.jira_push_wait_ms <= 2000  # the product's default patience, not shortened here
    site, page = world["site"], browser_page
    slow = 6  # seconds Jira takes to answer the create: far past the page's patience
    control(world, "faults", {"kind": "latency", "method": "POST", "path": ISSUE, "seconds": slow})
    violation = site.violations.get(rule_id="image-alt")
    sign_in(page, live_server, world["admin"].email)
    page.goto(f"{live_server.url}/sites/{site.pk}/violations/{violation.pk}/")
    mark_page(page)
    live = page.locator("[aria-live=polite]:has(#jira-push)")
    expect(live).to_have_count(1)

    page.get_by_role("button", name="Push to Jira").focus()
    page.keyboard.press("Enter")
    pushing = page.locator("#jira-push").get_by_role("button", name="Pushing…")
    expect(pushing).to_be_visible()
    assert not jira_issues(world)  # the answer came before Jira's: nobody waited on it
    expect(pushing).to_have_attribute("aria-disabled", "true")
    expect(pushing).to_be_focused()

    key = page.locator("#jira-push").get_by_role("link", name="ACME-1")
    expect(key).to_be_visible(timeout=DONE)  # the worker finished; the poll swapped the key in
    expect(page.locator("#jira-push").get_by_role("status")).to_have_text("Created ACME-1.")
    expect(key).to_be_focused()  # focus followed the swaps, never dropped to the page
    expect(live).to_contain_text("In Jira: ACME-1")
    assert same_document(page)  # no reload
    expect(page.locator("#jira-push [hx-trigger]")).to_have_count(0)  # polling has stopped

    assert [issue["key"] for issue in jira_issues(world)] == ["ACME-1"]
    assert ours(jira_issues(world)) == [JiraLink.objects.get(violation=violation).label]
    assert len(creates(world)) == 1
    job = PushJob.objects.get()
    assert (job.kind, job.status) == (PushJob.Kind.SINGLE, PushJob.Status.COMPLETED)
