"""The health page, for people: readable and accessible whether all is well or Jira pauses us."""

import time

import pytest

from allyproof.integrations.jira.models import PacingGate
from tests.support.browser import assert_no_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_health_page_ok_and_paused(browser_page, live_server):
    browser_page.goto(live_server.url + "/health/")
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Service health: ok"
    assert browser_page.get_by_role("row", name="reconciliation").is_visible()
    assert_no_axe_violations(browser_page)
    PacingGate.objects.create(key="global", paused_until=time.time() + 600, pause_reason="jira-quota-global-based")
    browser_page.reload()
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Service health: degraded"
    assert "Paused by Jira until" in browser_page.get_by_role("row", name="jira_budget").inner_text()
    assert_no_axe_violations(browser_page)
