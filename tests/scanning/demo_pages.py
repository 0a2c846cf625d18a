"""The routes of the scanner's test site: known violations, an iframe, shadow DOM, a sitemap, robots.txt
exclusions, a redirect loop, a slow page, a 500, a PDF, a dialog and an endless calendar."""

from __future__ import annotations

from .sites import HTML, html, redirect, slow

SHADOW = """<fancy-card></fancy-card><script>
customElements.define('fancy-card', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'open'}).innerHTML = '<img src="/b.png"><a href="/shadow-target">more</a>'; } });
</script>"""


def routes(base: str) -> dict:
    return {
        "/": html('<h1>Home</h1><img src="/a.png"><a href="/about">About</a> <a href="/pdf">PDF</a> '
                  '<a href="/loop">Loop</a> <a href="/boom">Boom</a> <a href="/slow">Slow</a> <a href="/dialog">Dialog</a> '
                  '<a href="/calendar?month=1">Calendar</a> <a href="/private/area">Private</a> <a href="/secret">Secret</a> '
                  '<a href="/about#team">About again</a> <a href="https://elsewhere.example/">Elsewhere</a>'
                  '<iframe src="/frame" title="Booking form"></iframe>' + SHADOW),
        "/about": html('<h1>About</h1><input type="text" name="q"><a href="/">Home</a>'),
        "/frame": html('<button></button>', title="Booking"),
        "/shadow-target": html("<h1>Shadow target</h1>"),
        "/from-sitemap": html('<h1>Listed</h1><div role="bogus">x</div>'),
        "/pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4\n%%EOF"),
        "/loop": redirect("/loop"),
        "/boom": (500, HTML, b"<!doctype html><title>Error</title>"),
        "/slow": slow(6, html("<h1>Finally</h1>")),
        "/dialog": html('<h1>Hello</h1><script>alert("Welcome!")</script><img src="/c.png">'),
        "/private/area": html("<h1>Excluded by pattern</h1>"),
        "/secret": html("<h1>Disallowed by robots.txt</h1>"),
        "/robots.txt": (200, {"Content-Type": "text/plain"},
                        f"User-agent: *\nDisallow: /secret\nSitemap: {base}/site-map.xml\n".encode()),
        "/site-map.xml": (200, {"Content-Type": "application/xml"},
                          f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                          f"<url><loc>{base}/from-sitemap</loc></url><url><loc>{base}/secret</loc></url></urlset>".encode()),
        "/a.png": (200, {"Content-Type": "image/png"}, b""),
        "/b.png": (200, {"Content-Type": "image/png"}, b""),
        "/c.png": (200, {"Content-Type": "image/png"}, b""),
    }


def calendar(month: int):
    return html(f'<h1>Month {month}</h1><a href="/calendar?month={month + 1}">Next month</a>')
