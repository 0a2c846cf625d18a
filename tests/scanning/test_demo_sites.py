"""The demo's client sites (scripts/demo_sites.py): robots.txt and the sitemap name the host asked for."""

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("demo_sites", Path(__file__).parents[2] / "scripts" / "demo_sites.py")
demo_sites = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(demo_sites)


def site():
    return demo_sites.DemoSite("Harbor Clinic", ("hero-image", "low-contrast"), 8010)


def test_a_site_added_as_localhost_finds_the_sitemaps_pages_on_its_own_host():
    # The sitemap's /team is reached by no link; named under 127.0.0.1 it was off-site for localhost:8010.
    status, kind, body = site().route("/sitemap.xml", "localhost:8010")
    assert (status, kind) == (200, "application/xml")
    assert "<loc>http://localhost:8010/team</loc>" in body and "127.0.0.1" not in body
    assert "Sitemap: http://localhost:8010/sitemap.xml" in site().route("/robots.txt", "localhost:8010")[2]


def test_any_other_host_header_falls_back_to_the_loopback_address():
    for host in (None, "evil.example", "localhost:9999"):
        assert "<loc>http://127.0.0.1:8010/team</loc>" in site().route("/sitemap.xml", host)[2]
