"""The demo's client websites, served on loopback so "Scan now" works offline (`./dev run` starts this).

Two small sites with real, known accessibility problems (an image without text inside a shadow root,
a form field without a label, a nameless button inside an iframe, an empty link, low contrast), a
sitemap that lists a page no link reaches, and robots.txt keeping the scanner out of /_demo/. Each
site's /_demo/ page has buttons to fix a problem (or bring it back), so a person can watch the next
scan mark the violation fixed — and its Jira issue told.

    python scripts/demo_sites.py --port 8110      # Harbor Clinic on 8110, Northwind Books on 8111
"""

from __future__ import annotations

import argparse
import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PROBLEMS = {  # key -> (what it is, page it is on, broken html, fixed html)
    "hero-image": ("The hero image has no text alternative (inside a shadow root)", "/",
                   "<img src='/hero.svg' width='320' height='120'>",
                   "<img src='/hero.svg' width='320' height='120' alt='Our clinic at the harbour'>"),
    "contact-label": ("The contact form's email field has no label", "/contact",
                      '<input type="email" name="email">',
                      '<label for="email">Email</label> <input type="email" id="email" name="email">'),
    "widget-button": ("The booking widget's button has no name (inside an iframe)", "/widget",
                      '<button type="button"><svg width="16" height="16" aria-hidden="true"></svg></button>',
                      '<button type="button">Book an appointment</button>'),
    "empty-link": ("An icon link has no text", "/services", '<a href="/contact"><span class="icon"></span></a>',
                   '<a href="/contact">Contact us</a>'),
    "low-contrast": ("Light grey text on white", "/team",
                     '<p style="color:#b0b0b0;background:#fff">Our team is here for you.</p>',
                     '<p style="color:#333;background:#fff">Our team is here for you.</p>'),
}
SITES = (("Harbor Clinic", ("hero-image", "contact-label", "widget-button", "low-contrast")),
         ("Northwind Books", ("empty-link", "contact-label", "low-contrast")))
HERO = "<svg xmlns='http://www.w3.org/2000/svg' width='320' height='120'><rect width='320' height='120' fill='#2a6f97'/></svg>"


class DemoSite:
    def __init__(self, name: str, problems: tuple[str, ...], port: int):
        self.name, self.problems, self.port = name, problems, port
        self.fixed: set[str] = set()

    def part(self, key: str) -> str:
        if key not in self.problems:
            return PROBLEMS[key][3]
        return PROBLEMS[key][3] if key in self.fixed else PROBLEMS[key][2]

    def page(self, title: str, body: str) -> str:
        nav = '<nav aria-label="Site"><a href="/">Home</a> · <a href="/services">Services</a> · <a href="/contact">Contact</a></nav>'
        return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · {html.escape(self.name)}</title>'
                f'</head><body><header><p>{html.escape(self.name)}</p>{nav}</header><main><h1>{title}</h1>{body}</main></body></html>')

    def route(self, path: str, host: str | None = None) -> tuple[int, str, str]:
        # robots.txt and the sitemap name the host the scanner asked for, so a site added as
        # localhost:PORT finds the same pages as 127.0.0.1:PORT (other names fall back to 127.0.0.1).
        base = f"http://{host}" if host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}") else (
            f"http://127.0.0.1:{self.port}")
        pages = {
            "/": ("Welcome", "<hero-card></hero-card><script>customElements.define('hero-card', class extends HTMLElement"
                  " { constructor() { super(); this.attachShadow({mode: 'open'}).innerHTML = "
                  f"\"{self.part('hero-image')}\"; }} }});</script>"
                  '<p>Book a visit with the widget below.</p><iframe src="/widget" title="Booking widget" width="400" height="80"></iframe>'),
            "/services": ("Services", f"<p>Check-ups, cleaning and more.</p>{self.part('empty-link')}"),
            "/contact": ("Contact", f'<form action="/contact">{self.part("contact-label")} <button type="submit">Send</button></form>'),
            "/team": ("Our team", self.part("low-contrast")),
        }
        if path == "/widget":
            return 200, "text/html", (f'<!doctype html><html lang="en"><head><title>Booking</title></head><body>'
                                      f'{self.part("widget-button")}</body></html>')
        if path == "/hero.svg":
            return 200, "image/svg+xml", HERO
        if path == "/robots.txt":
            return 200, "text/plain", f"User-agent: *\nDisallow: /_demo/\nSitemap: {base}/sitemap.xml\n"
        if path == "/sitemap.xml":
            locs = "".join(f"<url><loc>{base}{p}</loc></url>" for p in ("/", "/services", "/team"))
            return 200, "application/xml", f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        if path == "/_demo/":
            return 200, "text/html", self.control_page()
        if path in pages:
            return 200, "text/html", self.page(*pages[path])
        return 404, "text/html", self.page("Not found", "<p>No such page.</p>")

    def control_page(self) -> str:
        rows = "".join(
            f"<li>{html.escape(PROBLEMS[k][0])} (on {PROBLEMS[k][1]}): <strong>{'fixed' if k in self.fixed else 'broken'}</strong> "
            f'<form method="post" action="/_demo/" style="display:inline"><input type="hidden" name="problem" value="{k}">'
            f'<button type="submit">{"Break it again" if k in self.fixed else "Fix it"}</button></form></li>'
            for k in self.problems)
        return self.page("Demo controls", f"<p>Fix a problem here, then scan the site again in AllyProof.</p><ul>{rows}</ul>")


def serve(site: DemoSite) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, kind: str, body: str, extra: dict | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send(*site.route(self.path.split("?")[0], self.headers.get("Host")))

        def do_POST(self):
            length = min(int(self.headers.get("Content-Length") or 0), 10_000)
            key = parse_qs(self.rfile.read(length).decode()).get("problem", [""])[0]
            if key in site.problems:
                site.fixed.symmetric_difference_update({key})
            self._send(303, "text/plain", "", {"Location": "/_demo/"})

    server = ThreadingHTTPServer(("127.0.0.1", site.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8010, help="the first site's port; the second uses the next one")
    args = parser.parse_args()
    servers = [serve(DemoSite(name, problems, args.port + i)) for i, (name, problems) in enumerate(SITES)]
    for server, (name, _) in zip(servers, SITES):
        print(f"demo site {name} at http://127.0.0.1:{server.server_port}/", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
