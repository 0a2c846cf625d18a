"""The browser helpers work: Chromium is found, axe-core runs and reports, and the
assertion helper passes clean pages and explains failures."""

from __future__ import annotations

import os
import stat

import pytest

from tests.support import browser
from tests.support.browser import assert_no_axe_violations, axe_violations

ORIGIN = "http://allyproof.test"

CLEAN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Clean page</title></head>
<body>
  <header><a href="/">AllyProof</a></header>
  <main>
    <h1>Everything is fine</h1>
    <p>Plain text with sufficient contrast.</p>
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A one-pixel image">
    <form><label for="q">Search</label><input id="q" name="q"><button>Go</button></form>
  </main>
</body>
</html>"""

IMAGE_WITHOUT_ALT = CLEAN_PAGE.replace(' alt="A one-pixel image"', "")

NESTED_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Nested</title></head>
<body>
  <main>
    <h1>Nested content</h1>
    <iframe id="widget" title="Widget"
      srcdoc="<!DOCTYPE html><html lang='en'><head><title>w</title></head><body><main><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></main></body></html>"></iframe>
    <fancy-button></fancy-button>
  </main>
  <script>
    customElements.define("fancy-button", class extends HTMLElement {
      connectedCallback() {
        this.attachShadow({mode: "open"}).innerHTML = '<button class="icon"></button>';
      }
    });
  </script>
</body>
</html>"""


def serve(page, html: str, path: str = "/") -> None:
    """Load `html` at ORIGIN + path (a real http origin, as under live_server)."""
    page.route(f"{ORIGIN}/**", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(ORIGIN + path)


# --- no browser needed -------------------------------------------------------------------


def _fake_executable(tmp_path, name="my-chromium"):
    exe = tmp_path / name
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_chromium_path_prefers_the_env_override(tmp_path, monkeypatch):
    exe = _fake_executable(tmp_path)
    monkeypatch.setenv("ALLYPROOF_CHROMIUM", str(exe))
    assert browser.chromium_path() == str(exe)


def test_chromium_path_is_none_when_the_override_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLYPROOF_CHROMIUM", str(tmp_path / "missing"))
    assert browser.chromium_path() is None


def test_chromium_path_searches_path(tmp_path, monkeypatch):
    exe = _fake_executable(tmp_path, "chromium-browser")
    monkeypatch.delenv("ALLYPROOF_CHROMIUM", raising=False)
    monkeypatch.setattr(browser, "_CANDIDATES", ("/nonexistent/chromium", "chromium-browser"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert browser.chromium_path() == str(exe)


def test_require_browser_skips_without_chromium(monkeypatch):
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.delenv("ALLYPROOF_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found: install Debian's chromium"):
        browser.require_browser()


def test_require_browser_fails_when_required(monkeypatch):
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.setenv("ALLYPROOF_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="or set ALLYPROOF_CHROMIUM"):
        browser.require_browser()


def test_django_async_unsafe_is_allowed():
    assert os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")


def test_axe_source_is_the_packaged_axe_core():
    assert browser.axe_source().startswith("/*! axe v")


def test_format_target_shows_frames_and_shadow_roots():
    assert browser.format_target(["#main"]) == "#main"
    assert browser.format_target(["#widget", "img"]) == "#widget >>> img"
    assert browser.format_target([["fancy-button", ".icon"]]) == "fancy-button >> .icon"


# --- in Chromium -------------------------------------------------------------------------


@pytest.mark.browser
def test_axe_reports_a_missing_alt(browser_page):
    serve(browser_page, IMAGE_WITHOUT_ALT)
    violations = axe_violations(browser_page)
    assert [v["id"] for v in violations] == ["image-alt"]
    (image_alt,) = violations
    assert image_alt["impact"] == "critical"
    assert [node["target"] for node in image_alt["nodes"]] == [["img"]]


@pytest.mark.browser
def test_clean_page_passes(browser_page):
    serve(browser_page, CLEAN_PAGE)
    assert_no_axe_violations(browser_page)


@pytest.mark.browser
def test_failure_message_is_readable(browser_page):
    serve(browser_page, IMAGE_WITHOUT_ALT, "/reports/")
    with pytest.raises(AssertionError) as excinfo:
        assert_no_axe_violations(browser_page)
    message = str(excinfo.value)
    assert message.startswith(f"1 axe-core violation(s) on {ORIGIN}/reports/:")
    assert "image-alt [critical] Images must have alternative text (1 element(s))" in message
    assert "\n      img\n" in message
    assert "dequeuniversity.com/rules/axe/" in message


@pytest.mark.browser
def test_axe_sees_into_iframes_and_shadow_dom(browser_page):
    serve(browser_page, NESTED_PAGE)
    violations = {v["id"]: v for v in axe_violations(browser_page)}
    assert [n["target"] for n in violations["image-alt"]["nodes"]] == [["#widget", "img"]]
    # a shadow-DOM target is one frame level holding a list of selectors, host first
    assert [n["target"] for n in violations["button-name"]["nodes"]] == [[["fancy-button", "button"]]]
    with pytest.raises(AssertionError) as excinfo:
        assert_no_axe_violations(browser_page)
    assert "#widget >>> img" in str(excinfo.value)
    assert "fancy-button >> button" in str(excinfo.value)


@pytest.mark.browser
def test_options_are_passed_to_axe(browser_page):
    serve(browser_page, IMAGE_WITHOUT_ALT)
    assert_no_axe_violations(browser_page, options={"rules": {"image-alt": {"enabled": False}}})


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_orm_works_in_a_test_that_drives_the_browser(live_server, browser_page, django_user_model):
    # Without DJANGO_ALLOW_ASYNC_UNSAFE (set when tests.support.browser is imported) this ORM
    # call raises SynchronousOnlyOperation: sync Playwright runs an event loop in this thread.
    browser_page.goto(live_server.url + "/no-such-page-for-browser-support-test/")
    assert django_user_model.objects.count() == 0
