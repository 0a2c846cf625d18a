#!/usr/bin/env python3
"""Capture REAL axe-core results for the AllyProof ingestion test fixtures.

What it does
------------
1. Serves the fictional client site in ``tests/fixtures/axe/pages/`` (and the
   "after the fix" variant in ``tests/fixtures/axe/pages-rescan/``) with
   ``http.server`` on 127.0.0.1 and a random free port.
2. Launches headless Chromium through Playwright and intercepts every request
   with a Playwright route: requests to the fake origin
   ``https://www.acme-dental.example`` are fetched from the local http.server
   and fulfilled unchanged; anything else is aborted. The pages therefore load
   at stable, realistic URLs (``https://www.acme-dental.example/pricing/``) and
   the ``url`` fields that axe-core records do not contain the random port.
   Nothing in the HTML or in the results is rewritten.
3. Injects the axe-core build shipped inside the ``axe_playwright_python``
   package (located at run time; it is not copied into this repository) into
   every frame of the page and runs ``axe.run()`` with default context and
   options in the top frame. The result is serialised by the browser itself
   (``JSON.stringify(result, null, 2)``), so the files contain exactly what
   ``axe.run()`` returned.
4. Writes, into ``tests/fixtures/axe/``:

   * ``single_page__home.json``  - one ``axe.run()`` result object (home
     page), pretty-printed (``JSON.stringify(result, null, 2)``);
   * ``multi_page__site.json``   - a JSON list of result objects, one per page,
     compact (``JSON.stringify(list)``, one line) to keep the file small;
   * ``multi_page__rescan.json`` - the same for ``pages-rescan/``;
   * ``axe_cli__site.json``      - what ``axe URL URL URL --save FILE``
     (``@axe-core/cli`` 4.x) writes for three of the pages (CLI_PAGES):
     ``JSON.stringify(outcome, null, 2)`` where ``outcome`` is the array of
     per-URL results, in URL order, with no wrapper and no extra keys (see
     ``saveOutcome`` in ``dist/src/lib/utils.js`` and ``bin/index.js`` of the
     npm package). The CLI gets each result from
     ``@axe-core/webdriverjs``' ``AxeBuilder.analyze()``, which configures
     ``branding.application = "webdriverjs"``, calls ``axe.runPartial()`` in
     every frame and ``axe.finishRun()`` in a fresh ``about:blank`` window. This
     script reproduces that sequence with Playwright (instead of Selenium)
     so the file is what the CLI would have produced with this axe-core build.

Re-running
----------
From the repository root, with the dev dependencies installed in the venv::

    .venv/bin/python scripts/capture_axe_fixtures.py

Chromium is taken from ``$ALLYPROOF_CHROMIUM`` or the first of
``/usr/bin/chromium``, ``chromium``, ``chromium-browser``, ``google-chrome`` on
``PATH`` (Debian: ``apt-get install chromium``). ``playwright install`` is not
needed. The output changes on every run (``timestamp`` fields; other values if
the axe-core or Chromium version changes), so re-run it only on purpose, then
update the versions, date and rule table in ``tests/fixtures/axe/README.md``
(the summary this script prints has everything needed).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import sys
import threading
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Frame, Page, Route, sync_playwright

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "axe"

#: The stable, fake origin the pages are served at (``.example`` is reserved).
ORIGIN = "https://www.acme-dental.example"

#: (fixture name, path on the fake origin, file in the page directory), in the
#: order a crawler would visit them. Other paths (``/static/...``) map 1:1 to
#: files in the page directory.
PAGES = [
    ("home", "/", "home.html"),
    ("pricing", "/pricing/", "pricing.html"),
    ("contact", "/contact/", "contact.html"),
    ("blog-post", "/blog/five-myths-about-teeth-whitening/", "blog-post.html"),
    ("checkout", "/checkout/", "checkout.html"),
    ("about", "/about/", "about.html"),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Pages captured the way ``axe --save`` would for ``axe_cli__site.json``
#: (a subset: the CLI format is always pretty-printed and would be ~1 MB for
#: all six pages). Covers all four impacts, shadow-DOM and iframe targets.
CLI_PAGES = ("home", "pricing", "contact")

#: Files bigger than this are reported as a warning: keep the pages small
#: rather than trimming results (``resultTypes`` would change the output).
#: Even a trivial page costs ~38 KB of compact JSON (``inapplicable`` alone is
#: ~20-29 KB), and these pages cost 80-110 KB each, so the six-page files are
#: ~550 KB; the warning is for pages growing well beyond that.
SIZE_WARNING_BYTES = 600 * 1024


def find_chromium() -> str:
    candidates = [os.environ.get("ALLYPROOF_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    sys.exit("Chromium not found: install Debian's chromium package or set ALLYPROOF_CHROMIUM")


def axe_source_path() -> Path:
    """The axe-core build shipped inside the installed axe_playwright_python."""
    import axe_playwright_python

    path = Path(axe_playwright_python.__file__).resolve().parent / "axe.min.js"
    if not path.is_file():
        sys.exit(f"axe.min.js not found in the axe_playwright_python package ({path.parent})")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


class LocalSite:
    """A directory served by http.server on 127.0.0.1:<random free port>."""

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def install_route(context: BrowserContext, site: LocalSite) -> None:
    """Serve ORIGIN from the local http.server; abort every other request."""
    page_files = {path: "/" + filename for _, path, filename in PAGES}

    def handle(route: Route) -> None:
        url = urlsplit(route.request.url)
        if f"{url.scheme}://{url.netloc}" != ORIGIN:
            route.abort()
            return
        local_path = page_files.get(url.path, url.path)
        response = context.request.get(site.base + local_path)
        route.fulfill(response=response)

    context.route("**/*", handle)


def inject_axe(frame: Frame, axe_source: str) -> None:
    frame.evaluate(axe_source)


def axe_run(page: Page, axe_source: str) -> str:
    """``axe.run()`` with defaults, axe injected into every frame (as the
    axe-core integrations do) so iframe content is tested too. Returns the
    result serialised by the browser (``JSON.stringify(result)``)."""
    for frame in page.frames:
        inject_axe(frame, axe_source)
    return page.evaluate("() => axe.run().then(r => JSON.stringify(r))")


# --- @axe-core/cli emulation (mirrors @axe-core/webdriverjs AxeBuilder) ------

_CLI_INJECT = """
  axe.configure({ branding: { application: 'webdriverjs' } });
"""


def _cli_inject(frame: Frame, axe_source: str) -> None:
    frame.evaluate(axe_source)
    frame.evaluate(f"() => {{ {_CLI_INJECT} }}")


def _cli_run_partial_recursive(frame: Frame, context: dict, axe_source: str, top: bool) -> list[str]:
    if not top:
        _cli_inject(frame, axe_source)
    frame_contexts = frame.evaluate(
        "context => axe.utils.getFrameContexts(context)"
        ".map(fc => ({frameContext: fc.frameContext, frameSelector: fc.frameSelector}))",
        context,
    )
    partials = [
        frame.evaluate(
            "context => axe.runPartial(context || document, {}).then(r => JSON.stringify(r))",
            context,
        )
    ]
    for fc in frame_contexts:
        try:
            handle = frame.evaluate_handle("sel => axe.utils.shadowSelect(sel)", fc["frameSelector"])
            child = handle.as_element().content_frame()
            assert child is not None, f"no frame for {fc['frameSelector']}"
            partials += _cli_run_partial_recursive(child, fc["frameContext"], axe_source, top=False)
        except Exception as exc:  # webdriverjs pushes "null" for a frame it cannot test
            print(f"  warning: frame {fc['frameSelector']} not tested: {exc}", file=sys.stderr)
            partials.append("null")
    return partials


def axe_cli_result(page: Page, axe_source: str) -> str:
    """One URL's result as ``axe --save`` gets it, serialised compactly (the
    CLI pretty-prints the whole array at the end, see ``cli_outcome``)."""
    _cli_inject(page.main_frame, axe_source)
    # normalizeContext([], []) in @axe-core/webdriverjs
    partials = _cli_run_partial_recursive(page.main_frame, {"exclude": []}, axe_source, top=True)
    blank = page.context.new_page()  # finishRun runs in a new about:blank window
    try:
        _cli_inject(blank.main_frame, axe_source)
        return blank.evaluate(
            "partials => axe.finishRun(partials.map(p => JSON.parse(p)), {})"
            ".then(r => JSON.stringify(r))",
            partials,
        )
    finally:
        blank.close()


def stringify(page: Page, items: list[str] | str, pretty: bool) -> str:
    """Re-serialise JSON text (one document or a list of them) with V8's
    ``JSON.stringify`` (``null, 2`` when pretty), exactly as the CLI's
    ``saveOutcome`` does; no values are touched."""
    return page.evaluate(
        """([items, pretty]) => {
             const value = Array.isArray(items) ? items.map(i => JSON.parse(i)) : JSON.parse(items);
             return pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
           }""",
        [items, pretty],
    )


# --- capture ----------------------------------------------------------------


def capture_site(context: BrowserContext, directory: Path, axe_source: str, cli: bool = False):
    """Returns {name: axe.run() JSON} and, if cli, {name: CLI-style JSON}."""
    results: dict[str, str] = {}
    cli_results: dict[str, str] = {}
    with LocalSite(directory) as site:
        install_route(context, site)
        try:
            for name, path, _ in PAGES:
                page = context.new_page()
                response = page.goto(ORIGIN + path, wait_until="load")
                assert response is not None and response.ok, f"{path}: {response and response.status}"
                results[name] = axe_run(page, axe_source)
                page.close()
                if cli and name in CLI_PAGES:
                    page = context.new_page()
                    page.goto(ORIGIN + path, wait_until="load")
                    cli_results[name] = axe_cli_result(page, axe_source)
                    page.close()
        finally:
            context.unroute("**/*")
    return results, cli_results


def write(path: Path, text: str, final_newline: bool = True) -> None:
    path.write_text(text + ("\n" if final_newline else ""), encoding="utf-8")
    size = path.stat().st_size
    flag = "  <-- unexpectedly large, shrink the pages" if size > SIZE_WARNING_BYTES else ""
    print(f"wrote {path.relative_to(REPO)} ({size / 1024:.0f} KB){flag}")


def summarise(title: str, results: dict[str, str]) -> None:
    """Print rules/impacts/node counts per page and a rule x page matrix."""
    print(f"\n== {title}")
    matrix: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    impacts_seen = set()
    nested = []
    for name, text in results.items():
        r = json.loads(text)
        print(f"-- {name}: {r['url']}  violations={len(r['violations'])} "
              f"passes={len(r['passes'])} incomplete={len(r['incomplete'])} "
              f"inapplicable={len(r['inapplicable'])}")
        for v in r["violations"]:
            impacts_seen.add(v["impact"])
            matrix[(v["id"], v["impact"])][name] = len(v["nodes"])
            print(f"     {v['id']:<24} {v['impact']:<9} nodes={len(v['nodes'])}")
            for n in v["nodes"]:
                if len(n["target"]) > 1 or any(isinstance(t, list) for t in n["target"]):
                    nested.append((name, v["id"], n["target"]))
        for v in r["incomplete"]:
            print(f"     (incomplete) {v['id']:<11} {v['impact']} nodes={len(v['nodes'])}")
    print("\nrule | impact | " + " | ".join(results))
    for (rule, impact), per_page in sorted(matrix.items()):
        print(f"{rule} | {impact} | " + " | ".join(str(per_page.get(p, "")) for p in results))
    print(f"\nimpacts seen: {sorted(impacts_seen)}")
    print("nested targets:")
    for item in nested:
        print(f"   {item}")


def main() -> None:
    axe_path = axe_source_path()
    axe_source = axe_path.read_text(encoding="utf-8")
    chromium = find_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            site, cli = capture_site(context, FIXTURES / "pages", axe_source, cli=True)
            rescan, _ = capture_site(context, FIXTURES / "pages-rescan", axe_source)
            scratch = context.new_page()
            write(FIXTURES / "single_page__home.json", stringify(scratch, site["home"], pretty=True))
            write(FIXTURES / "multi_page__site.json", stringify(scratch, list(site.values()), pretty=False))
            write(FIXTURES / "multi_page__rescan.json", stringify(scratch, list(rescan.values()), pretty=False))
            # byte-for-byte what saveOutcome writes: no trailing newline
            cli_text = stringify(scratch, list(cli.values()), pretty=True)
            write(FIXTURES / "axe_cli__site.json", cli_text, final_newline=False)
            version = browser.version
        finally:
            browser.close()
    engine = json.loads(site["home"])["testEngine"]
    print(f"\naxe-core {engine['version']} (from {axe_path.parent.name}), Chromium {version}")
    summarise("pages/ (multi_page__site.json)", site)
    summarise("pages-rescan/ (multi_page__rescan.json)", rescan)
    summarise("axe_cli__site.json", cli)


if __name__ == "__main__":
    main()
