"""Connect Jira in a real browser, through the sandbox's consent page, served on a port."""

import threading

import pytest
from django.utils.csp import CSP

from allyproof.integrations.jira.models import JiraConnection
from jira_sandbox import Sandbox, SandboxConfig
from jira_sandbox.serve import make_server
from tests.browser.conftest import sign_in
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def served_sandbox(live_server, settings):
    sb = Sandbox(SandboxConfig.default())
    server = make_server(sb, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    settings.CONFIG = settings.CONFIG.replace(
        atlassian_auth_url=url, atlassian_api_url=url,
        public_url=live_server.url)
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, url]}
    yield sb
    server.shutdown()
    assert not sb.conformance.failures


def test_connect_disconnect_and_reconnect(browser_page, live_server, served_sandbox, admin_user, site):
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.get_by_role("link", name="Settings").click()
    assert page.get_by_text("Jira Server and Data Center are not supported").is_visible()
    assert_no_axe_violations(page)

    page.get_by_role("button", name="Connect Jira").click()
    assert page.get_by_role("heading", level=1).inner_text().endswith("is requesting access to your Atlassian account")
    for scope in ("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook"):
        assert page.get_by_text(scope, exact=True).is_visible()
    page.get_by_label("Other Agency").uncheck()  # grant one site: no site choice needed
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{live_server.url}/settings/integrations/")
    assert page.locator(".badge.connected").inner_text() == "Connected"
    assert page.get_by_role("link", name="https://demo-agency.atlassian.net").is_visible()
    assert "Demo Agency" in page.locator("#jira").inner_text()
    assert f"Connected by {admin_user}" in page.locator("#jira").inner_text()
    assert page.get_by_role("status").inner_text().startswith("Connected to Demo Agency")
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Disconnect Jira").click()
    assert page.get_by_role("heading", name="Disconnect Jira?").is_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Disconnect Jira").click()
    assert page.get_by_text("Not connected.").is_visible()
    assert JiraConnection.objects.get().status == JiraConnection.Status.DISCONNECTED

    page.get_by_role("button", name="Connect Jira").click()  # both sites granted: pick one
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{live_server.url}/settings/integrations/")
    assert page.get_by_role("group").inner_text().startswith("Your Atlassian account can reach several Jira sites")
    assert_no_axe_violations(page)
    page.get_by_label("Demo Agency").check()
    page.get_by_role("button", name="Use this site").click()
    assert page.locator(".badge.connected").inner_text() == "Connected"
    assert JiraConnection.objects.filter(status="active").count() == 1


def test_cancel_on_the_consent_page(browser_page, live_server, served_sandbox, admin_user):
    page = browser_page
    sign_in(page, live_server, admin_user.email)
    page.goto(live_server.url + "/settings/integrations/")
    page.get_by_role("button", name="Connect Jira").click()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{live_server.url}/settings/integrations/")
    assert page.get_by_role("status").inner_text() == "You cancelled on Atlassian's consent screen, so Jira was not connected."
    assert not JiraConnection.objects.exists()
    assert_no_axe_violations(page)
