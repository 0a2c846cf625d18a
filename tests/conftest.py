import os

import pytest
from django.core.servers.basehttp import WSGIServer
from django.test.testcases import LiveServerThread

from tests import factories

# On SQLite the test database is in memory, and the live server's threads share the test's one connection
# (nothing else can see that database). Django's threaded server then runs two requests of one page at
# once on that connection: the sync-rules POST and the page's issue-type fetch together failed with
# sqlite3's "bad parameter or other API misuse" in CI. The plain server takes one request at a time (and
# answers "Connection: close", so a browser's idle connection holds nothing up). PostgreSQL keeps threads.
class _OneRequestAtATime(WSGIServer):
    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)  # the serving thread itself holds the shared connection already


if not os.environ.get("DATABASE_URL"):
    LiveServerThread.server_class = _OneRequestAtATime

# The browser fixtures are registered once, here: one sync Playwright session per test run
# (a second one in the same thread would fail).
from tests.support.browser import browser_page, chromium_browser, sync_playwright_session  # noqa: F401, E402


@pytest.fixture
def org(db):
    return factories.organization()


@pytest.fixture
def other_org(db):
    return factories.organization("Other Agency")


@pytest.fixture
def owner(org):
    return org.memberships.get(role="owner").user


@pytest.fixture
def admin_user(org):
    return factories.member(org, "admin@demo-agency.test", role="admin")


@pytest.fixture
def member_user(org):
    return factories.member(org, "member@demo-agency.test", role="member")


@pytest.fixture
def site(org):
    return factories.site(org)


@pytest.fixture(autouse=True)
def fresh_points_budget():
    """The process-wide budget keeps its reads of the pools for a moment: no test sees another's."""
    from allyproof.integrations.jira.connection import budget

    budget._shared.clear()
    yield
    budget._shared.clear()


@pytest.fixture(autouse=True)
def no_inherited_inbound_wake_flag():
    """Intake enqueues the inbound worker only when its wake flag is clear, and every test shares one
    Huey store: a flag an earlier test left set (its run never consumed) would keep a later test's real
    consumer from being woken until the per-minute sweep."""
    from huey.contrib.djhuey import HUEY

    from allyproof.integrations.jira.inbound.apply import WAKE_FLAG

    HUEY.delete(WAKE_FLAG)
    yield
