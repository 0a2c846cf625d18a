"""Sync rules and the three ways to push, in a real browser against the served Jira sandbox.

Push jobs (bulk and picker) are Huey tasks; no consumer runs in tests, so the test runs the queued
job itself, the way the worker would, and then waits for the page to say what happened, in place.
"""

import pytest
from playwright.sync_api import expect

from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection, JiraLink, PushJob, SiteSyncRule
from allyproof.monitoring import wcag
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.jira_helpers import ALL, connect_org, run_queued_jobs, save_rule, served_sandbox  # noqa: F401
from tests.jira.conftest import huey_immediate  # noqa: F401  (a prompt worker: the push answers in the request)
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_KEY = "No project key: this site can't push."


@pytest.fixture
def scanned(site):
    """ACME Dental with its real six-page scan (22 violations: 6 critical, 6 serious, 6 moderate, 4 minor)."""
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    return site


@pytest.fixture
def routed(scanned, served_sandbox, admin_user):
    """Connected to the sandbox's Demo Agency; ACME Dental routed to ACME with every severity."""
    connection = connect_org(admin_user, served_sandbox)
    save_rule(connection, scanned)
    return connection


def row_labels(sb) -> set[str]:
    return {label for issue in sb.issues(None) for label in issue["fields"]["labels"] if label.startswith("allyproof-")}


def mark_page(page) -> None:
    page.evaluate("window.__sameDocument = true")


def same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def run_job_and_wait_for_outcome(page, outcome: str) -> PushJob:
    """The worker's part, then the page's: the progress block polls, and when the job is done it says
    what happened in the page's live region and reloads the violations table in place (no refresh).

    The live server shares the test's in-memory SQLite connection, so the test must not use the
    database while the page is being served. One poll is held at the browser (the block sends no
    other while one is in flight), the job runs here, then the held poll goes on.
    """
    held = []
    page.route("**/jira/?watch=*", lambda route: held.append(route))
    for _ in range(200):  # the block polls every second
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the progress block did not poll"
    job = PushJob.objects.get(status=PushJob.Status.QUEUED)  # nothing ran it: no consumer in tests
    mark_page(page)
    run_queued_jobs()
    job.refresh_from_db()
    assert job.status == PushJob.Status.COMPLETED
    held[0].continue_()
    page.unroute("**/jira/?watch=*")
    expect(page.locator("#jira-sync [data-announce]")).to_have_text(outcome)
    expect(page.locator("#announcer")).to_have_text(outcome)  # the polite live region, said once
    expect(page.locator("#violations .jira-key").first).to_be_visible()  # the table reloaded in place
    assert same_document(page)  # no page refresh
    return job


# --- 1. sync rules -------------------------------------------------------------------------------------


def test_sync_rules_warn_enable_refuse_save_and_reregister_the_webhook(
        browser_page, live_server, served_sandbox, org, site, admin_user, member_user):
    beta = factories.site(org, "BetaCorp", "https://www.betacorp.example/")
    connect_org(admin_user, served_sandbox)
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.get_by_role("link", name="Settings").click()

    rows = page.locator("#sync-rules tbody tr")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_by_role("rowheader").inner_text().strip() for i in range(2)] == ["ACME Dental", "BetaCorp"]
    acme_row, beta_row = rows.nth(0), rows.nth(1)
    expect(acme_row.get_by_text(NO_KEY)).to_be_visible()  # new connections: every site opted out, no key
    expect(beta_row.get_by_text(NO_KEY)).to_be_visible()
    save = page.get_by_role("button", name="Save sync rules")
    expect(save).to_be_disabled()  # nothing changed yet
    assert_no_axe_violations(page)

    page.get_by_role("checkbox", name="ACME Dental", exact=True).check()
    expect(save).to_be_disabled()  # a ticked site without a key
    key = page.get_by_label("Jira project key for ACME Dental", exact=True)
    key.fill("ACME")
    expect(acme_row.get_by_text(NO_KEY)).to_be_hidden()
    expect(beta_row.get_by_text(NO_KEY)).to_be_visible()  # BetaCorp stays excluded, still without a key
    expect(save).to_be_enabled()
    key.fill("")
    expect(acme_row.get_by_text(NO_KEY)).to_be_visible()
    expect(save).to_be_disabled()
    page.get_by_role("checkbox", name="ACME Dental", exact=True).uncheck()
    expect(save).to_be_disabled()  # back to what is saved

    page.get_by_role("checkbox", name="ACME Dental", exact=True).check()
    key.fill("NOPE")  # well-formed, but no such project in Jira
    expect(save).to_be_enabled()
    save.click()
    expect(page.get_by_role("status")).to_have_text("Nothing was saved: fix the rows marked below.")
    acme_row = page.locator("#sync-rules tbody tr").nth(0)
    expect(acme_row.get_by_role("alert")).to_have_text(
        "There is no project NOPE in Demo Agency (keys are case-sensitive), or you cannot see it.")
    expect(page.get_by_label("Jira project key for ACME Dental", exact=True)).to_have_value("NOPE")  # what was typed is kept
    expect(page.get_by_role("checkbox", name="ACME Dental", exact=True)).to_be_checked()
    assert list(SiteSyncRule.objects.values_list("enabled", "project_key")) == [(False, ""), (False, "")]
    assert_no_axe_violations(page)
    # The refused rows are unsaved changes: the button lets you try again.
    expect(page.get_by_role("button", name="Save sync rules")).to_be_enabled()

    page.get_by_label("Jira project key for ACME Dental", exact=True).fill("ACME")
    severities = page.get_by_role("group", name="Severities pushed for ACME Dental")
    for level in ("Critical", "Serious"):  # what new rows start with: the remediation work that matters
        expect(severities.get_by_label(level)).to_be_checked()
    for level in ("Moderate", "Minor"):
        expect(severities.get_by_label(level)).not_to_be_checked()
    # Typing the key fetched its issue types in the background; the live server's SQLite test database is
    # one connection for all its threads, so the save must not race that request.
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Save sync rules").click()
    expect(page.get_by_role("status")).to_have_text("Sync rules saved.")
    rule = SiteSyncRule.objects.get(site=site)
    assert (rule.enabled, rule.project_key, rule.severities) == (True, "ACME", ["critical", "serious"])
    assert not SiteSyncRule.objects.get(site=beta).enabled
    jira = page.locator("#jira")
    expect(jira.locator("[data-webhook-summary]")).to_contain_text("Jira tells us about changes in ACME.")  # in words
    assert JiraConnection.objects.get(status="active").webhook_jql == "project IN (ACME)"
    assert [hook.jql_filter for hook in served_sandbox.state.webhooks.values()] == ["project IN (ACME)"]
    expect(page.get_by_label("Jira project key for ACME Dental", exact=True)).to_have_value("ACME")
    expect(page.get_by_role("button", name="Save sync rules")).to_be_disabled()  # saved: nothing to save
    assert_no_axe_violations(page)

    page.context.clear_cookies()
    sign_in(page, live_server, member_user.email)
    page.goto(live_server.url + "/settings/integrations/")
    expect(page.locator("#sync-rules tbody tr")).to_have_count(2)
    inputs = page.locator("#sync-rules input:not([type=hidden])")
    expect(inputs).to_have_count(2 * (1 + 1 + 4 + 1 + 1))  # enabled, key, four severities, issue type, auto-push
    assert inputs.evaluate_all("inputs => inputs.every(input => input.disabled)")
    expect(page.get_by_label("Jira project key for ACME Dental", exact=True)).to_have_value("ACME")
    expect(page.get_by_role("button", name="Save sync rules")).to_have_count(0)
    expect(page.get_by_role("link", name="Disconnect Jira")).to_have_count(0)
    assert_no_axe_violations(page)


# --- 2. the violation page's button ---------------------------------------------------------------------


def expect_blocked(page, reason: str) -> None:
    button = page.get_by_role("button", name="Push to Jira")
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(page.get_by_role("tooltip")).to_be_hidden()
    button.hover()
    expect(page.get_by_role("tooltip")).to_be_visible()
    expect(page.get_by_role("tooltip")).to_have_text(reason)
    expect(button).to_have_accessible_description(reason)
    button.click(force=True)  # does nothing
    assert not JiraLink.objects.exists()
    assert_no_axe_violations(page)
    page.mouse.move(0, 0)


def test_push_button_says_why_it_is_disabled_then_pushes_in_place(
        browser_page, live_server, served_sandbox, scanned, admin_user, huey_immediate):
    page = browser_page
    image_alt = scanned.violations.get(rule_id="image-alt")  # critical
    minor = scanned.violations.get(rule_id="empty-heading")
    sign_in(page, live_server, admin_user.email)
    violation_page = f"{live_server.url}/sites/{scanned.pk}/violations/{image_alt.pk}/"

    page.goto(violation_page)
    expect_blocked(page, "Jira is not connected. An owner or admin can connect it under Settings → Integrations.")

    connection = connect_org(admin_user, served_sandbox)
    page.reload()
    expect_blocked(page, "This site is excluded from Jira sync.")

    # Ticked without a key: the rules form refuses that, so an old or hand-edited row.
    SiteSyncRule.objects.filter(site=scanned).update(enabled=True, project_key="", severities=list(ALL))
    page.reload()
    expect_blocked(page, "This site has no Jira project key configured.")

    save_rule(connection, scanned, severities=("critical",))
    page.goto(f"{live_server.url}/sites/{scanned.pk}/violations/{minor.pk}/")
    expect_blocked(page, "Minor violations are below this site's threshold (it pushes Critical).")

    page.goto(violation_page)
    mark_page(page)
    button = page.get_by_role("button", name="Push to Jira")
    expect(button).not_to_have_attribute("aria-disabled", "true")
    button.click()
    link = page.locator("#jira-push").get_by_role("link", name="ACME-1")
    expect(link).to_be_visible()
    expect(page.locator("#jira-push")).to_contain_text("In Jira: ACME-1")
    expect(page.locator("#jira-push").get_by_role("status")).to_have_text("Created ACME-1.")
    assert link.get_attribute("href") == "https://demo-agency.atlassian.net/browse/ACME-1"
    expect(page.get_by_role("button", name="Push to Jira")).to_have_count(0)
    assert same_document(page)  # swapped in place, no page load
    assert [issue["key"] for issue in served_sandbox.issues(None)] == ["ACME-1"]
    assert JiraLink.objects.get(violation=image_alt).issue_key == "ACME-1"
    assert_no_axe_violations(page)

    page.reload()
    expect(page.locator("#jira-push")).to_have_text("In Jira: ACME-1")
    expect(page.locator(".messages")).to_have_count(0)  # the confirmation was shown once, not again
    expect(page.get_by_role("button", name="Push to Jira")).to_have_count(0)
    assert_no_axe_violations(page)


def test_a_member_can_push(browser_page, live_server, routed, scanned, member_user, served_sandbox, huey_immediate):
    page = browser_page
    violation = scanned.violations.get(rule_id="color-contrast")
    sign_in(page, live_server, member_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/violations/{violation.pk}/")
    page.get_by_role("button", name="Push to Jira").click()
    expect(page.locator("#jira-push")).to_contain_text("In Jira: ACME-1")
    link = JiraLink.objects.get(violation=violation)
    assert (link.issue_key, link.created_by.email) == ("ACME-1", member_user.email)
    assert len(served_sandbox.issues(None)) == 1
    assert_no_axe_violations(page)


# --- 3. the site page's Jira sync block ----------------------------------------------------------------


def test_bulk_push_shows_progress_and_says_when_done(
        browser_page, live_server, routed, scanned, admin_user, served_sandbox):
    page = browser_page
    total = scanned.violations.count()
    sign_in(page, live_server, admin_user.email)
    page.get_by_role("link", name="ACME Dental").click()
    block = page.locator("#jira-sync")
    expect(block.get_by_role("heading", name="Jira sync")).to_be_visible()
    expect(block).to_contain_text(f"{total} violations ready to push to ACME.")
    expect(block).not_to_contain_text("already linked")
    assert_no_axe_violations(page)

    block.get_by_role("button", name=f"Push {total} to ACME").click()
    expect(block.get_by_role("status")).to_have_text(
        f"Pushing to ACME: 0 of {total} done. You'll be told here when it's complete.")
    expect(block.get_by_role("progressbar", name="Push progress")).to_be_visible()
    expect(block.get_by_role("button", name=f"Push {total} to ACME")).to_have_count(0)
    assert_no_axe_violations(page)

    assert run_job_and_wait_for_outcome(page, f"Pushed {total} to ACME.").kind == PushJob.Kind.BULK
    block = page.locator("#jira-sync")
    expect(block).to_contain_text("All matching violations are in ACME.")
    expect(block).to_contain_text(f"{total} already linked.")
    expect(block.get_by_role("button")).to_have_count(0)
    expect(block.get_by_role("progressbar")).to_have_count(0)
    assert len(served_sandbox.issues(None)) == total
    assert_no_axe_violations(page)


# --- 4. the picker --------------------------------------------------------------------------------------


def test_picker_lists_every_pushable_violation_and_pushes_exactly_the_ticked_ones(
        browser_page, live_server, routed, scanned, admin_user, served_sandbox):
    page = browser_page
    total = scanned.violations.count()
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/")
    block = page.locator("#jira-sync")
    checklist = block.locator(".checklist")
    expect(checklist).to_be_hidden()
    block.get_by_text("Choose violations").click()
    expect(checklist).to_be_visible()

    boxes = checklist.get_by_role("checkbox")
    expect(boxes).to_have_count(total)
    assert boxes.evaluate_all("boxes => boxes.every(box => box.checked)")  # all pre-selected
    rows = checklist.locator("li").evaluate_all("""items => items.map(li => {
        const box = li.querySelector("input");
        return {id: box.value, name: box.labels[0].innerText.replace(/\\s+/g, " ").trim(),
                badge: li.querySelector(".badge").innerText,
                tags: [...li.querySelectorAll(".tag")].map(tag => tag.innerText)};
    })""")
    expected = {}
    for v in scanned.violations.all():
        pages = f"{v.page_count} page{'s' if v.page_count != 1 else ''}"
        tags = wcag.labels(v.tags)
        expected[str(v.pk)] = {"id": str(v.pk), "badge": v.impact.capitalize(), "tags": tags,
                               "name": " ".join([v.impact.capitalize(), v.help, "·", pages, *tags])}
    assert sorted(rows, key=lambda r: r["id"]) == sorted(expected.values(), key=lambda r: r["id"])
    assert [r["badge"] for r in rows] == ["Critical"] * 6 + ["Serious"] * 6 + ["Moderate"] * 6 + ["Minor"] * 4
    link_name = scanned.violations.get(rule_id="link-name")
    assert expected[str(link_name.pk)]["tags"] == ["WCAG 2.0 A", "2.4.4", "4.1.2"]
    submit = block.locator("[data-picker-submit]")
    expect(submit).to_have_text(f"Push {total} to ACME")
    assert_no_axe_violations(page)

    skipped = [scanned.violations.get(rule_id="image-alt"), scanned.violations.get(rule_id="region")]
    for violation in skipped:
        checklist.get_by_role("checkbox", name=violation.help).uncheck()
    expect(submit).to_have_text(f"Push {total - 2} selected")
    submit.click()
    expect(block.get_by_role("status")).to_contain_text(f"Pushing to ACME: 0 of {total - 2} done.")
    assert run_job_and_wait_for_outcome(page, f"Pushed {total - 2} to ACME.").kind == PushJob.Kind.PICKED
    block = page.locator("#jira-sync")
    expect(block).to_contain_text("2 violations ready to push to ACME.")
    expect(block).to_contain_text(f"{total - 2} already linked.")
    issues = served_sandbox.issues(None)
    assert len(issues) == total - 2
    pushed = JiraLink.objects.filter(status="linked")
    assert set(pushed.values_list("violation_id", flat=True)) == set(
        scanned.violations.exclude(pk__in=[v.pk for v in skipped]).values_list("pk", flat=True))
    assert row_labels(served_sandbox) == {link.label for link in pushed}  # one issue per picked violation
    assert all({"allyproof", "accessibility"} <= set(issue["fields"]["labels"]) for issue in issues)
    assert not JiraLink.objects.filter(violation__in=skipped).exists()
    assert_no_axe_violations(page)


# --- 5. a stale picker tab ------------------------------------------------------------------------------


def test_stale_picker_pushes_only_what_still_matches_and_says_what_it_skipped(
        browser_page, live_server, routed, scanned, admin_user, served_sandbox):
    page = browser_page
    total = scanned.violations.count()
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/")
    block = page.locator("#jira-sync")
    block.get_by_text("Choose violations").click()
    expect(block.locator("[data-picker-submit]")).to_have_text(f"Push {total} to ACME")

    # Meanwhile: the rule is tightened to Critical, and someone pushes one critical violation.
    save_rule(routed, scanned, severities=("critical",))
    elsewhere = scanned.violations.get(rule_id="image-alt")
    push.violation_push(violation=elsewhere, connection=routed, client=client_for(routed),
                        violation_url=push.absolute_violation_url(elsewhere))
    critical = scanned.violations.filter(impact="critical").count()

    block.locator("[data-picker-submit]").click()
    expect(block.get_by_role("status")).to_contain_text(f"Pushing to ACME: 0 of {critical - 1} done.")
    run_job_and_wait_for_outcome(page, f"Pushed {critical - 1} to ACME.")
    status = page.locator("#jira-sync .messages")
    # The live progress replaced the "pushing" message; what was skipped is still said, in the block.
    expect(status).to_contain_text(f"Skipped {total - critical + 1} chosen violations: already linked, no longer "
                                   "matching this site's sync rules, or not this site's.")
    expect(page.locator("#jira-sync")).to_contain_text("All matching violations are in ACME.")
    assert len(served_sandbox.issues(None)) == critical
    assert set(JiraLink.objects.values_list("violation__impact", flat=True)) == {"critical"}
    assert_no_axe_violations(page)

    # A stale tab whose every choice went stale: nothing to push, and the block says so at once.
    save_rule(routed, scanned, severities=ALL)
    page.reload()
    block = page.locator("#jira-sync")
    ready = total - critical
    block.get_by_text("Choose violations").click()
    expect(block.locator("[data-picker-submit]")).to_have_text(f"Push {ready} to ACME")
    save_rule(routed, scanned, severities=("critical",))
    block.locator("[data-picker-submit]").click()
    expect(block).to_contain_text(f"Skipped {ready} chosen violations")
    expect(block).to_contain_text("All matching violations are in ACME.")
    assert not PushJob.objects.filter(status=PushJob.Status.QUEUED).exists()
    assert len(served_sandbox.issues(None)) == critical
    assert_no_axe_violations(page)


def test_without_javascript_the_picker_is_its_own_page(chromium_browser, live_server, routed, scanned, member_user,
                                                       served_sandbox):
    context = chromium_browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, member_user.email)
    page.goto(f"{live_server.url}/sites/{scanned.pk}/")
    page.get_by_text("Choose violations").click()
    page.get_by_role("link", name=f"Open the checklist of all {scanned.violations.count()}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose violations to push to ACME")
    boxes = page.get_by_role("checkbox")
    expect(boxes).to_have_count(scanned.violations.count())
    context_js = chromium_browser.new_context()  # axe needs JavaScript; same page, scanned with it on
    scanned_page = context_js.new_page()
    sign_in(scanned_page, live_server, member_user.email)
    scanned_page.goto(page.url)
    assert_no_axe_violations(scanned_page)
    context_js.close()
    boxes.first.uncheck()
    page.locator("[data-picker-submit]").click()
    assert PushJob.objects.get().items.count() == scanned.violations.count() - 1
    context.close()
