"""No Chromium on the server: Scan now is disabled with the reason and the one install command; uploads
still work."""

import pytest

from allyproof.scanning import browser
from allyproof.scanning.models import ScanRun
from tests import factories
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_browser(monkeypatch):
    monkeypatch.setenv("ALLYPROOF_CHROMIUM", "/nonexistent/chromium")
    browser.browser_status.cache_clear()
    yield
    monkeypatch.undo()
    browser.browser_status.cache_clear()


def test_find_chromium_reports_a_bad_override():
    status = browser.find_chromium({"ALLYPROOF_CHROMIUM": "/nonexistent/chromium"})
    assert not status.available and "ALLYPROOF_CHROMIUM='/nonexistent/chromium'" in status.problem
    assert browser.find_chromium({"PATH": ""}, playwright_fallback=False).problem.startswith("No Chromium")


def test_scan_now_is_disabled_with_the_reason_and_uploads_still_work(no_browser, org, site, member_user, signed_in,
                                                                    live_server, client, tmp_path):
    page = signed_in(member_user)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    button = page.get_by_role("button", name="Scan now")
    assert button.is_disabled()
    reason = page.locator("#no-browser").inner_text()
    assert "is not an executable browser" in reason and browser.INSTALL_COMMAND in reason
    assert_no_axe_violations(page)

    client.force_login(member_user)
    response = client.post(f"/sites/{site.pk}/scan/", follow=True)  # a stale page or a crafted POST
    assert ScanRun.objects.count() == 0 and browser.INSTALL_COMMAND in response.content.decode()

    upload = tmp_path / "results.json"
    upload.write_bytes(factories.axe_fixture("multi_page__site.json"))
    page.get_by_label("axe-core results (JSON)").set_input_files(str(upload))
    page.get_by_role("button", name="Import scan").click()
    page.get_by_text("Scan imported").wait_for()
    assert site.violations.count() > 0
