"""Issue 13's new page states in a real browser, each checked with axe-core."""

import pytest

from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_lockout_message_is_announced_and_accessible(browser_page, live_server, client, owner):
    for n in range(10):  # the live server sees the browser at 127.0.0.1 too
        client.post("/accounts/login/", {"username": owner.email, "password": f"wrong-{n}"}, REMOTE_ADDR="127.0.0.1")
    browser_page.goto(live_server.url + "/accounts/login/")
    browser_page.get_by_label("Email").fill(owner.email)
    browser_page.get_by_label("Password").fill("anything")
    browser_page.get_by_role("button", name="Sign in").click()
    assert browser_page.get_by_role("alert").inner_text().startswith("Too many failed sign-ins")
    assert_no_axe_violations(browser_page)
