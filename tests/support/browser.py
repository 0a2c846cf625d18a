"""Helpers for browser tests of the AllyProof Django app (Playwright + Chromium + axe-core).

Chromium comes from the system (Debian's ``chromium`` package) or ``$ALLYPROOF_CHROMIUM``;
``playwright install`` is never needed. Without a browser the tests skip, unless
``ALLYPROOF_REQUIRE_BROWSER=1`` (CI), in which case they fail.

Usage in a test module (or a conftest.py)::

    import pytest
    from tests.support.browser import assert_no_axe_violations, browser_page, chromium_browser  # noqa: F401

    pytestmark = pytest.mark.browser

    def test_dashboard_is_accessible(live_server, browser_page):
        browser_page.goto(live_server.url + "/")
        assert_no_axe_violations(browser_page)

The fixtures use their own ``sync_playwright()`` session; don't mix them with
pytest-playwright's ``playwright``/``browser``/``page`` fixtures in one run (two sync
Playwright sessions cannot share a thread, and pytest-playwright would look for a
downloaded browser).

axe-core is the ``axe.min.js`` shipped inside the ``axe_playwright_python`` package,
located at run time (it is not vendored in this repository).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from allyproof.monitoring.targets import target_text

# Django's ORM refuses to run when it detects a running asyncio event loop in the current
# thread ("SynchronousOnlyOperation: You cannot call this from an async context"). The
# sync Playwright API drives its own event loop in the test thread, so with pytest-django's
# `live_server` and `db` fixtures in the same process every ORM call made by the test
# (fixtures, factories, assertions on the database) would fail. The test code itself is
# synchronous, so allowing it is safe here; the variable must be set before Django checks it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

MISSING_BROWSER_MESSAGE = (
    "Chromium not found: install Debian's chromium package or set ALLYPROOF_CHROMIUM"
)

#: Flags for a headless Chromium in containers/CI: no sandbox (root in a container),
#: no GPU, and nothing that phones home or updates itself during a test run.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """Path of the Chromium to use, or None.

    ``$ALLYPROOF_CHROMIUM`` (a path or a command name) wins when set; if it does not point
    to an executable the result is None rather than a silent fallback. Otherwise the first
    executable of /usr/bin/chromium, chromium, chromium-browser, google-chrome on PATH.
    """
    override = os.environ.get("ALLYPROOF_CHROMIUM")
    if override:
        return shutil.which(override)
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_browser() -> str:
    """Return the Chromium path; skip the test without one (fail if ALLYPROOF_REQUIRE_BROWSER=1)."""
    path = chromium_path()
    if path:
        return path
    if os.environ.get("ALLYPROOF_REQUIRE_BROWSER") == "1":
        pytest.fail(MISSING_BROWSER_MESSAGE, pytrace=False)
    pytest.skip(MISSING_BROWSER_MESSAGE)


def launch_browser(playwright: Playwright, **launch_options: Any) -> Browser:
    """Launch the system Chromium headless with CHROMIUM_ARGS (extra ``args`` are appended)."""
    extra_args = list(launch_options.pop("args", ()))
    launch_options.setdefault("headless", True)
    return playwright.chromium.launch(
        executable_path=require_browser(),
        args=[*CHROMIUM_ARGS, *extra_args],
        **launch_options,
    )


@functools.cache
def axe_source() -> str:
    """The axe-core script bundled with the installed ``axe_playwright_python`` package."""
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def inject_axe(page: Page) -> None:
    """Load axe-core into every frame of the page, so ``axe.run()`` in the top frame also
    tests iframe content (axe talks to the copies in child frames)."""
    source = axe_source()
    page.main_frame.evaluate(source)
    for frame in page.frames:
        if frame is page.main_frame or frame.is_detached():
            continue
        try:
            frame.evaluate(source)
        except Exception:  # a frame navigating or going away; axe reports it as "frame-tested"
            pass


def axe_results(page: Page, context: Any = None, options: dict[str, Any] | None = None) -> dict:
    """The full ``axe.run()`` result for the page's current document.

    With no ``context``/``options`` this is axe's default run: the WCAG 2.0/2.1/2.2 A and
    AA rules plus best-practice rules (experimental, AAA and deprecated rules are off).
    """
    inject_axe(page)
    return page.evaluate(
        "([context, options]) => axe.run(context || document, options || {})",
        [context, options],
    )


def axe_violations(
    page: Page, context: Any = None, options: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The ``violations`` of a default ``axe.run()`` on the page (see ``axe_results``)."""
    return axe_results(page, context, options)["violations"]


def format_target(target: list[Any]) -> str:
    """Readable axe target, as the product writes it (frames ' >>> ', shadow-DOM steps ' >> ')."""
    return target_text(target)


def format_violations(violations: list[dict[str, Any]], url: str = "", max_targets: int = 3) -> str:
    """A summary of axe violations: rule id, impact, help, element count, first targets."""
    where = f" on {url}" if url else ""
    lines = [f"{len(violations)} axe-core violation(s){where}:"]
    for violation in violations:
        nodes = violation.get("nodes", [])
        targets = [format_target(node.get("target", [])) for node in nodes[:max_targets]]
        more = f" (+{len(nodes) - max_targets} more)" if len(nodes) > max_targets else ""
        lines.append(
            f"  - {violation['id']} [{violation.get('impact')}] {violation.get('help', '')}"
            f" ({len(nodes)} element(s))"
        )
        if targets:
            lines.append(f"      {', '.join(targets)}{more}")
        if violation.get("helpUrl"):
            lines.append(f"      {violation['helpUrl']}")
    return "\n".join(lines)


def assert_no_axe_violations(
    page: Page, context: Any = None, options: dict[str, Any] | None = None, max_targets: int = 3
) -> None:
    """Fail with a readable summary when a default axe run finds any violation."""
    __tracebackhide__ = True
    violations = axe_violations(page, context, options)
    if violations:
        raise AssertionError(format_violations(violations, page.url, max_targets))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sync_playwright_session() -> Iterator[Playwright]:
    """One sync Playwright session for the test run (skips without Chromium)."""
    require_browser()
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium_browser(sync_playwright_session: Playwright) -> Iterator[Browser]:
    """The system Chromium, launched once per test run."""
    browser = launch_browser(sync_playwright_session)
    yield browser
    browser.close()


@pytest.fixture
def browser_page(chromium_browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (own cookies/storage), closed after the test."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()
