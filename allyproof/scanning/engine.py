"""The crawl: Playwright drives headless Chromium, axe-core runs in every frame of every page.

Pure of Django: it takes a plan and reports events to a callback (the driver in `runner.py` turns
them into database rows in its own thread). Every request the browser makes, each redirect hop
included, goes through the checking forward proxy (`proxy.py`) in this event loop, which refuses
forbidden addresses and paces requests to the client's server; nothing is intercepted in Playwright,
so the browser's cache and network stack work as they do in a plain Playwright loop. Why a top
document failed (refused, redirected to a refused address) is read back from what the proxy saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Response, async_playwright

from . import browser, discovery, failures
from .policy import AddressPolicy
from .proxy import CheckingProxy
from .urls import normalise, origin

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
MAX_REDIRECTS = 10
CONTEXT_PAGES = 50
# Runs in the page: axe in the top frame, which asks the copies injected into child frames (axe's own
# frame support); only what ingestion reads comes back, so a page's result stays small.
AXE_RUN = """async (options) => {
  const r = await axe.run(document, options);
  const slim = v => ({id: v.id, impact: v.impact, description: v.description, help: v.help, helpUrl: v.helpUrl,
    tags: v.tags, nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary}))});
  return {testEngine: r.testEngine, violations: r.violations.map(slim), incomplete: r.incomplete.map(slim)};
}"""


@dataclass(frozen=True)
class Plan:
    rules: discovery.CrawlRules
    policy: AddressPolicy
    executable: str
    tags: tuple[str, ...] = WCAG_TAGS
    best_practices: bool = False
    concurrency: int = 2
    requests_per_second: float = 5.0
    page_timeout_s: float = 30.0
    idle_timeout_s: float = 3.0
    # Pages already done (a resumed scan): url -> (depth, the same-site links found on it).
    done: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    @property
    def axe_options(self) -> dict[str, Any]:
        tags = [*self.tags, *(["best-practice"] if self.best_practices else [])]
        return {"runOnly": {"type": "tag", "values": tags}, "resultTypes": ["violations", "incomplete"]}


@dataclass
class PageOutcome:
    url: str
    depth: int
    status: str  # scanned, failed, skipped
    reason: str = ""
    result: dict[str, Any] | None = None
    links: list[str] = field(default_factory=list)


class Pacer:
    """At most `rate` requests a second to the client's server, shared by all pages of the scan."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            delay = self.next_slot - now
            self.next_slot = max(now, self.next_slot) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class Scan:
    def __init__(self, plan: Plan, emit: Callable[[str, Any], None], stopping: Callable[[], bool]):
        self.plan, self.emit, self.stopping = plan, emit, stopping
        self.frontier = discovery.Frontier(plan.rules)
        self.site_origin = self.frontier.origin
        self.pacer = Pacer(plan.requests_per_second)
        parts = urlsplit(self.site_origin)
        self.site_authority = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self.proxy = CheckingProxy(plan.policy, pace=self.pace, on_refused=self.refused,
                                   connect_timeout_s=plan.page_timeout_s)
        self.busy = 0

    # --- requests ---------------------------------------------------------------------------

    async def pace(self, authority: str) -> None:
        """Called by the proxy for every request (HTTPS: every tunnel) before it connects."""
        if authority == self.site_authority:
            await self.pacer.wait()

    def refused(self, url: str, reason: str) -> None:
        self.emit("refused", (url, reason))

    async def fetch_text(self, url: str) -> str | None:
        """robots.txt and sitemaps: through the same checking proxy as the browser's own requests."""
        try:
            response = await self.request_context.fetch(url, max_redirects=MAX_REDIRECTS, timeout=15_000)
            final = normalise(response.url) or response.url
            text = await response.text() if response.ok and origin(final) == self.site_origin else None
            await response.dispose()
            return text
        except PlaywrightError:
            return None

    # --- discovery ----------------------------------------------------------------------------

    async def discover(self) -> None:
        start = normalise(self.plan.rules.start_url, query=self.plan.rules.query)
        sitemaps = [f"{self.site_origin}/sitemap.xml"]
        robots = await self.fetch_text(f"{self.site_origin}/robots.txt")
        if robots is not None:
            sitemaps = self.frontier.set_robots(robots) + sitemaps
        self.frontier.add(start, 0, entry=True)
        pending, read = list(dict.fromkeys(sitemaps)), 0
        while pending and read < discovery.SITEMAP_LIMIT:
            sitemap = pending.pop(0)
            if origin(normalise(sitemap) or sitemap) != self.site_origin:
                continue
            read += 1
            body = await self.fetch_text(sitemap)
            pages, nested = discovery.sitemap_locations(body.encode()) if body else ([], [])
            pending.extend(nested)
            for page_url in pages:
                self.frontier.add(page_url, 1)
        # A resumed scan: done pages are not loaded again, but their links still lead on.
        self.frontier.seen.update(self.plan.done)
        self.frontier.queue = type(self.frontier.queue)(i for i in self.frontier.queue if i[0] not in self.plan.done)
        for url, (depth, links) in self.plan.done.items():
            for link in links:
                self.frontier.add(link, depth + 1, base=url)
        self.emit("found", self.frontier.found)

    # --- pages --------------------------------------------------------------------------------

    async def new_context(self):
        return await self.browser.new_context(service_workers="block")

    async def scan_page(self, held: _Held, url: str, depth: int) -> PageOutcome:
        if held.tab is None:
            held.tab = _Tab(await held.context.new_page())
        tab = held.tab
        tab.reset()
        outcome = await self._load_and_test(tab.page, url, depth, tab.dialogs, tab.navigation)
        if outcome.status != "scanned":  # a page that failed in any way is not trusted with the next URL
            held.tab = None
            await tab.page.close()
        return outcome

    def _navigation_problem(self, navigation: _Navigation) -> str | None:
        """Why the top document did not load, from what the proxy saw for its last hop."""
        if navigation.request is None:
            return None
        if navigation.hops() >= MAX_REDIRECTS:  # Chromium allows 20, each paced: a loop often times out first
            return "too many redirects (a redirect loop)"
        parts = urlsplit(navigation.request.url)
        authority = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        problem = self.proxy.problems.get(authority)
        if problem and problem.startswith("refused: ") and navigation.request.redirected_from is not None:
            return "redirected to a refused address: " + problem.removeprefix("refused: ")
        return problem

    async def _load_and_test(self, page: Page, url: str, depth: int, dialogs: list[str],
                             navigation: _Navigation) -> PageOutcome:
        try:
            response = await page.goto(url, wait_until="load", timeout=self.plan.page_timeout_s * 1000)
        except PlaywrightError as error:
            reason = (navigation.not_html() or self._navigation_problem(navigation)
                      or failures.reason_for(str(error), self.plan.page_timeout_s))
            status = "skipped" if reason.startswith("skipped") else "failed"
            return PageOutcome(url, depth, status, reason.removeprefix("skipped: "))
        if response is None:
            return PageOutcome(url, depth, "failed", "the page did not load")
        if response.status >= 400:
            return PageOutcome(url, depth, "failed", f"HTTP {response.status}")
        if not_html := navigation.not_html():
            return PageOutcome(url, depth, "skipped", not_html.removeprefix("skipped: "))
        final = normalise(page.url, query=self.plan.rules.query) or url
        if origin(final) != self.site_origin:
            return PageOutcome(url, depth, "failed", f"redirected off the site to {page.url}")
        try:
            await page.wait_for_load_state("networkidle", timeout=self.plan.idle_timeout_s * 1000)
        except PlaywrightError:
            pass  # busy pages (polling, streams) never go idle; the load event is enough then
        try:
            links = await page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            result = await self._axe(page)
        except PlaywrightError as error:
            return PageOutcome(url, depth, "failed", f"testing the page failed ({failures.first_line(str(error))})")
        result["url"] = final
        reason = f"a JavaScript {dialogs[0]} dialog was dismissed" if dialogs else ""
        return PageOutcome(final, depth, "scanned", reason, result, links)

    async def _axe(self, page: Page) -> dict[str, Any]:
        source = browser.axe_source()
        await page.main_frame.evaluate(source)
        for frame in page.frames[1:]:
            try:
                await frame.evaluate(source)
            except PlaywrightError:
                pass  # a frame that went away; axe reports it as not tested
        return await page.main_frame.evaluate(AXE_RUN, self.plan.axe_options)

    async def worker(self) -> None:
        held = _Held(await self.new_context())
        try:
            await self._work(held)
        finally:
            await held.context.close()

    async def _work(self, held: _Held) -> None:
        while not self.stopping():
            item = self.frontier.next()
            if item is None:
                if not self.busy:
                    return
                await asyncio.sleep(0.05)
                continue
            self.busy += 1
            try:
                url, depth = item
                if held.used >= CONTEXT_PAGES:
                    await held.context.close()
                    held.context, held.tab, held.used = await self.new_context(), None, 0
                outcome = await self.scan_page(held, url, depth)
                held.used += 1
                self.frontier.seen.add(outcome.url)
                before = self.frontier.found
                for link in outcome.links:
                    self.frontier.add(link, depth + 1, base=outcome.url)
                if self.frontier.found != before:
                    self.emit("found", self.frontier.found)
                # Kept (same-site, once each, capped) so a resumed scan can follow them without reloading.
                outcome.links = list(dict.fromkeys(
                    link for link in (normalise(raw, query=self.plan.rules.query, base=outcome.url)
                                      for raw in outcome.links) if link and origin(link) == self.site_origin))[:500]
                self.emit("page", outcome)
            finally:
                self.busy -= 1

    async def run(self) -> None:
        proxy_url = await self.proxy.start()
        try:
            async with async_playwright() as playwright:
                # Every request of the browser goes through the checking proxy; `<-loopback>` takes away
                # Chromium's default of connecting to loopback directly.
                self.browser = await playwright.chromium.launch(
                    executable_path=self.plan.executable, headless=True,
                    args=[*browser.LAUNCH_ARGS, f"--proxy-server={proxy_url}", "--proxy-bypass-list=<-loopback>"])
                self.request_context = await playwright.request.new_context(proxy={"server": proxy_url})
                try:
                    await self.discover()
                    await asyncio.gather(*(self.worker() for _ in range(max(1, self.plan.concurrency))))
                finally:
                    await self.request_context.dispose()
                    await self.browser.close()
        finally:
            await self.proxy.close()


@dataclass
class _Held:
    """A worker's browser context and tab. One context per worker, renewed every CONTEXT_PAGES pages, so
    whatever a site leaves behind (caches, storage, leaks) is dropped regularly; one tab in it, reused
    from URL to URL: a closed tab takes its renderer process with it (the context has no other page to
    keep it), and a fresh process per page (start-up, axe compiled cold) halved the pages per second."""

    context: Any
    tab: _Tab | None = None
    used: int = 0


class _Tab:
    def __init__(self, page: Page):
        self.page = page
        self.dialogs: list[str] = []
        self.navigation = _Navigation(page)
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        if dialog.type == "beforeunload":  # leaving the last URL for the next: let it go, not the page's finding
            asyncio.ensure_future(dialog.accept())
            return
        self.dialogs.append(dialog.type)
        asyncio.ensure_future(dialog.dismiss())

    def reset(self) -> None:
        self.dialogs.clear()
        self.navigation.request, self.navigation.content_type = None, ""


class _Navigation:
    """The top document's last request and response, from the page's own events (nothing paused)."""

    def __init__(self, page: Page):
        self.request: Request | None = None
        self.content_type = ""
        main = page.main_frame
        page.on("request", lambda request: self._request(request, main))
        page.on("response", lambda response: self._response(response, main))

    def _request(self, request: Request, main) -> None:
        if request.is_navigation_request() and request.frame == main:
            self.request = request

    def _response(self, response: Response, main) -> None:
        request = response.request
        if request.is_navigation_request() and request.frame == main and response.status < 300:
            self.content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()

    def hops(self) -> int:
        count, request = 0, self.request
        while request is not None and request.redirected_from is not None:
            count, request = count + 1, request.redirected_from
        return count

    def not_html(self) -> str | None:
        if self.content_type and self.content_type not in ("text/html", "application/xhtml+xml"):
            return f"skipped: not HTML ({self.content_type})"
        return None


def crawl(plan: Plan, emit: Callable[[str, Any], None], stopping: Callable[[], bool] = lambda: False) -> None:
    """Runs a whole scan in this thread's own event loop; events: ("found", n), ("page", PageOutcome)."""
    asyncio.run(Scan(plan, emit, stopping).run())
