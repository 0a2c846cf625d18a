"""Which Chromium the scanner drives, and the axe-core it injects (both found, never shipped by us).

Order: ALLYPROOF_CHROMIUM (a path or command; if set but not executable, that is the answer: no
silent fallback), the system Chromium, then the browser Playwright downloads with its own installer.
axe-core is the axe.min.js inside the axe-playwright-python package from the registry.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_COMMAND = "python -m playwright install chromium"
# Headless in containers: no sandbox (often root), no GPU, nothing that phones home during a scan,
# no DNS prefetching or WebRTC that would reach addresses without a request we can check.
LAUNCH_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--dns-prefetch-disable",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)


@dataclass(frozen=True)
class BrowserStatus:
    executable: str | None
    problem: str = ""  # why there is no browser, in words for the site page

    @property
    def available(self) -> bool:
        return self.executable is not None


def _playwright_own() -> str | None:
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # no driver, or called inside an event loop: treat as "not installed"
        return None
    return path if path and Path(path).is_file() and os.access(path, os.X_OK) else None


def find_chromium(env: dict[str, str] | None = None, *, playwright_fallback: bool = True) -> BrowserStatus:
    env = os.environ if env is None else env
    override = env.get("ALLYPROOF_CHROMIUM")
    if override:
        found = shutil.which(override, path=env.get("PATH"))
        if found:
            return BrowserStatus(found)
        return BrowserStatus(None, f"ALLYPROOF_CHROMIUM={override!r} is not an executable browser.")
    for candidate in SYSTEM_CANDIDATES:
        found = shutil.which(candidate, path=env.get("PATH"))
        if found:
            return BrowserStatus(found)
    own = _playwright_own() if playwright_fallback else None
    if own:
        return BrowserStatus(own)
    return BrowserStatus(None, "No Chromium is installed on the server, so AllyProof cannot load pages.")


@functools.cache
def browser_status() -> BrowserStatus:
    """Cached per process: the answer does not change while a server runs."""
    return find_chromium()


@functools.cache
def axe_source() -> str:
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


@functools.cache
def axe_version() -> str:
    match = re.search(r"axe v(\d+\.\d+\.\d+)", axe_source()[:200])
    return match.group(1) if match else ""
