import pytest
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.jira_helpers import served_sandbox, connect_org, save_rule  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_explore(browser_page, live_server, served_sandbox, admin_user, site):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    for v in site.violations.all():
        print(v.pk, v.rule_id, v.impact, v.page_count, v.wcag_tags)
    conn = connect_org(admin_user, served_sandbox)
    save_rule(conn, site)
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    page.screenshot(path="/tmp/jb/site.png", full_page=True)
    print(page.locator("main").inner_text()[:1500])
    page.goto(f"{live_server.url}/settings/integrations/")
    page.screenshot(path="/tmp/jb/integrations.png", full_page=True)
