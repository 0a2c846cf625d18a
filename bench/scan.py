"""Benchmark: AllyProof's scanner against a bare Playwright + axe-core loop on a local site.

    .venv/bin/python bench/scan.py                     # 200 pages at concurrency 1, 2, 4; then 1,000 pages at 4
    .venv/bin/python bench/scan.py --pages 50 --levels 1,2 --growth-pages 0    # a quicker run
    .venv/bin/python bench/scan.py --levels "" --growth-pages 1000                # the long scan only

The parent serves a generated site on loopback (PAGES pages, each with known violations, linked as
a tree from the home page and listed in sitemap.xml) and starts one child per measurement, so each
child's memory is its own:

* allyproof: Django on a throwaway SQLite, one site, `runner.scan_run_execute` — the whole scan as the
  worker runs it: robots.txt, sitemap, crawl, every request through the checking proxy (address check
  and pacing), one browser context per worker with one reused tab, load + bounded network idle, axe in
  every frame, page rows, ingestion.
  The politeness limit is set to 1,000 requests/s (effectively off: a benchmark measures the work).
* bare: the floor — the same URL list, the same concurrency, one browser and context, for each URL a new page:
  goto (load), the same bounded network-idle wait, axe injected into every frame and run; results
  dropped. No crawl, no address check, no storage.

Memory: peak of the summed PSS (/proc/<pid>/smaps_rollup) of the child and every process under it
(Playwright's driver and all of Chromium's processes), sampled every 0.25 s. PSS splits shared pages
between processes, so the sum is the tree's real footprint (RSS would count shared pages many times).
Growth: over a long scan, the least-squares slope of PSS over pages done, from the first 10% of pages
to the last page (samples after the crawl, with the browser closed, do not count).

The test suite asserts behaviour; this prints figures (see docs/benchmarks.md) and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

TARGET_RATIO = 0.9
TARGET_PEAK_MB = 1536
TARGET_GROWTH_MB_PER_PAGE = 1.0


# --- the site -----------------------------------------------------------------------------------

def page_html(i: int, pages: int) -> bytes:
    children = [c for c in range(i * 5 + 1, i * 5 + 6) if c < pages]
    links = "".join(f'<li><a href="/p/{c}">Page {c}</a></li>' for c in children)
    return (f'<!doctype html><html lang="en"><head><title>Page {i}</title></head><body><main><h1>Page {i}</h1>'
            f'<img src="/img.png"><form><input type="text" name="q{i}"></form>'
            f'<p>{"Some text. " * 40}</p><ul>{links}</ul><a href="/p/0">Home</a></main></body></html>').encode()


def serve_site(pages: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path == "/" or self.path.startswith("/p/"):
                i = 0 if self.path == "/" else int(self.path[3:] or 0)
                body, kind = page_html(i, pages), "text/html"
            elif self.path == "/sitemap.xml":
                locs = "".join(f"<url><loc>{base}/p/{i}</loc></url>" for i in range(1, pages))
                body, kind = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'.encode(), "application/xml"
            elif self.path == "/img.png":
                body, kind = b"", "image/png"
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- memory of a process tree -------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def tree_pss_mb(root: int) -> float:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
        stack += _children(pid)
    return total / 1024


class Sampler(threading.Thread):
    def __init__(self, progress=lambda: 0):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int, float]] = []  # (seconds, pages done, PSS MB)
        self.progress, self.stop, self.start_time = progress, threading.Event(), time.monotonic()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.monotonic() - self.start_time, self.progress(), tree_pss_mb(os.getpid())))
            self.stop.wait(0.25)

    @property
    def peak(self) -> float:
        return max((s[2] for s in self.samples), default=0.0)


# --- the children -------------------------------------------------------------------------------

def child_allyproof(url: str, concurrency: int) -> dict:
    data_dir = tempfile.mkdtemp(prefix="allyproof-bench-scan-")
    os.environ.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=data_dir, ALLYPROOF_SECRET_KEY="bench-" + "x" * 50)
    os.environ.pop("DATABASE_URL", None)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "allyproof.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from allyproof.accounts.services import organization_create, user_get_or_create
    from allyproof.monitoring.services import site_create
    from allyproof.scanning import runner, services
    from allyproof.scanning.models import ScanRun, ScanSettings
    from allyproof.scanning.policy import AddressPolicy

    org = organization_create(name="Bench", owner=user_get_or_create(email="bench@bench.test", password="x" * 20))
    site = site_create(organization=org, name="Bench site", base_url=url + "/")
    ScanSettings.objects.create(site=site, page_cap=100_000, depth_cap=50, requests_per_second=1000)
    run = services.scan_request(site=site, source="command")
    sampler = Sampler(lambda: ScanRun.objects.filter(pk=run.pk).values_list("pages_scanned", flat=True).first() or 0)
    sampler.progress = lambda: sampler_progress[0]
    sampler_progress = [0]
    original_page = runner._Progress.page

    def counting_page(self, outcome):  # count in this thread; the sampler must not touch the ORM
        original_page(self, outcome)
        sampler_progress[0] = self.run.pages_scanned

    runner._Progress.page = counting_page
    sampler.start()
    started = time.monotonic()
    finished = runner.scan_run_execute(run_id=run.pk, overrides=runner.Overrides(
        policy=AddressPolicy(allow_loopback=True), concurrency=concurrency))
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    return {"pages": finished.pages_scanned, "failed": finished.pages_failed, "seconds": elapsed,
            "status": finished.status, "peak_mb": sampler.peak, "samples": sampler.samples}


async def _bare(urls: list[str], concurrency: int, executable: str, progress: list[int]) -> None:
    from playwright.async_api import async_playwright

    from allyproof.scanning import browser
    from allyproof.scanning.engine import AXE_RUN, WCAG_TAGS

    source = browser.axe_source()
    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations", "incomplete"]}
    queue = list(urls)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=list(browser.LAUNCH_ARGS))
        context = await chromium.new_context()

        async def worker():
            while queue:
                url = queue.pop()
                page = await context.new_page()
                await page.goto(url, wait_until="load")
                try:
                    await page.wait_for_load_state("networkidle", timeout=3000)
                except Exception:
                    pass
                for frame in page.frames:
                    await frame.evaluate(source)
                await page.main_frame.evaluate(AXE_RUN, options)
                await page.close()
                progress[0] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await chromium.close()


def child_bare(url: str, concurrency: int, pages: int) -> dict:
    from allyproof.scanning import browser

    urls = [f"{url}/"] + [f"{url}/p/{i}" for i in range(1, pages)]
    progress = [0]
    sampler = Sampler(lambda: progress[0])
    sampler.start()
    started = time.monotonic()
    asyncio.run(_bare(urls, concurrency, browser.find_chromium().executable, progress))
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    return {"pages": progress[0], "failed": 0, "seconds": elapsed, "status": "completed", "peak_mb": sampler.peak,
            "samples": sampler.samples}


# --- the parent ---------------------------------------------------------------------------------

def measure(kind: str, url: str, concurrency: int, pages: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--url", url, "--concurrency", str(concurrency),
                          "--pages", str(pages)], capture_output=True, text=True, timeout=3600, cwd=REPO_ROOT)
    if out.returncode:
        raise SystemExit(f"{kind} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth(samples: list, pages: int) -> tuple[float, float, float]:
    """(PSS after the first 10% of pages, the last PSS while still crawling, MB per page in between).

    Only samples taken while pages were still being scanned count: after the last page the browser is
    closed and ingestion runs, so a final sample says nothing about growth. MB per page is the
    least-squares slope of PSS over pages done, which the sawtooth of context renewals does not fool
    the way two single points would."""
    crawling = [s for s in samples if pages // 10 <= s[1] < pages]
    if len(crawling) < 2:
        return 0.0, 0.0, 0.0
    xs, ys = [s[1] for s in crawling], [s[2] for s in crawling]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs) or 1.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return ys[0], ys[-1], slope


def _load() -> str:
    """The 1-, 5- and 15-minute load averages: figures on a shared machine mean little without them."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--growth-pages", type=int, default=1000)
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        result = (child_allyproof(args.url, args.concurrency) if args.child == "allyproof"
                  else child_bare(args.url, args.concurrency, args.pages))
        print(json.dumps(result))
        return

    server = serve_site(args.pages)
    url = f"http://127.0.0.1:{server.server_port}"
    print(f"site: {args.pages} pages at {url}; cores: {os.cpu_count()}; load {_load()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    print("| concurrency | AllyProof pages/s | bare loop pages/s | ratio | AllyProof peak MB | bare peak MB | load |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for level in [int(x) for x in args.levels.split(",") if x]:
        ours = measure("allyproof", url, level, args.pages)
        bare = measure("bare", url, level, args.pages)
        ours_rate, bare_rate = ours["pages"] / ours["seconds"], bare["pages"] / bare["seconds"]
        print(f"| {level} | {ours_rate:.2f} ({ours['pages']} pages, {ours['seconds']:.1f} s) | {bare_rate:.2f} "
              f"({bare['pages']} pages, {bare['seconds']:.1f} s) | {ours_rate / bare_rate:.2f}x "
              f"{'PASS' if ours_rate / bare_rate >= TARGET_RATIO else 'MISS'} | {ours['peak_mb']:.0f} | {bare['peak_mb']:.0f} "
              f"| {_load()} |",
              flush=True)
    server.shutdown()
    if args.growth_pages:
        server = serve_site(args.growth_pages)
        url = f"http://127.0.0.1:{server.server_port}"
        long = measure("allyproof", url, 4, args.growth_pages)
        warm, end, per_page = growth(long["samples"], long["pages"])
        print(f"\n{long['pages']} pages at concurrency 4 in {long['seconds']:.1f} s "
              f"({long['pages'] / long['seconds']:.2f} pages/s): peak {long['peak_mb']:.0f} MB "
              f"({'PASS' if long['peak_mb'] <= TARGET_PEAK_MB else 'MISS'} ≤ {TARGET_PEAK_MB}); "
              f"PSS {warm:.0f} MB after 10% -> {end:.0f} MB at the last page; slope {per_page * 1024:.1f} KB/page "
              f"({'PASS' if per_page < TARGET_GROWTH_MB_PER_PAGE else 'MISS'} < 1 MB/page); load {_load()}")
        server.shutdown()


if __name__ == "__main__":
    main()
