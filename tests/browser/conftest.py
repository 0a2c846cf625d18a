import pytest

from tests import factories


def sign_in(page, live_server, email, password=factories.PASSWORD):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/sites/")


@pytest.fixture
def signed_in(browser_page, live_server):
    def _sign_in(user):
        sign_in(browser_page, live_server, user.email)
        return browser_page

    return _sign_in
