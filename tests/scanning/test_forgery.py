"""Server-side request forgery: every request the browser makes is checked by resolved address first.

Names under .invalid never resolve in real DNS and the resolver here is a fake, so the decisions are
made by resolution alone: no test sends traffic to anything but loopback.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from allyproof.core import config
from allyproof.scanning import discovery, engine
from allyproof.scanning.policy import AddressPolicy, Refused
from allyproof.scanning.runner import policy_from_config
from tests.support.browser import require_browser

from .sites import ServedSite, html, redirect

NAMES = {
    "shop.invalid": ["93.184.216.34"],  # public
    "intranet.invalid": ["10.0.0.7"],
    "db.invalid": ["172.16.5.4"],
    "router.invalid": ["192.168.1.1"],
    "metadata.invalid": ["169.254.169.254"],
    "local.invalid": ["127.0.0.1"],
    "local6.invalid": ["::1"],
    "mixed.invalid": ["93.184.216.34", "10.0.0.8"],  # the browser may pick either: refused
}


async def fake_resolver(host: str) -> list[str]:
    if host not in NAMES:
        raise OSError("not in the test's fake DNS")
    return NAMES[host]


PRODUCTION = AddressPolicy(resolver=fake_resolver)
DEVELOPMENT = AddressPolicy(allow_loopback=True, resolver=fake_resolver)


def in_thread(function, *args):
    """In a thread of its own: a sync Playwright session (browser tests) keeps an event loop running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def check(policy, url):
    try:
        in_thread(asyncio.run, policy.check(url))
    except Refused as refused:
        return str(refused)
    return None


@pytest.mark.parametrize(("url", "refusal"), [
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://[::1]:8080/", "::1 is a loopback address"),
    ("http://10.1.2.3/", "10.1.2.3 is a private address"),
    ("http://172.16.0.9/", "172.16.0.9 is a private address"),
    ("http://192.168.0.1/", "192.168.0.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://169.254.10.10/", "169.254.10.10 is a link-local address"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is a private address"),
    ("http://0.0.0.0/", "0.0.0.0 is a private address"),
    ("http://intranet.invalid/", "intranet.invalid resolves to 10.0.0.7, a private address"),
    ("http://metadata.invalid/", "metadata.invalid resolves to 169.254.169.254, a cloud metadata address"),
    ("http://local6.invalid/", "local6.invalid resolves to ::1, a loopback address"),
    ("http://mixed.invalid/", "mixed.invalid resolves to 10.0.0.8, a private address"),
    ("http://nowhere.invalid/", "nowhere.invalid does not resolve (OSError)"),
    ("file:///etc/passwd", "file URLs are not scanned"),
    ("ftp://shop.invalid/", "ftp URLs are not scanned"),
])
def test_production_refuses(url, refusal):
    assert check(PRODUCTION, url) == refusal


def test_production_allows_public_addresses():
    assert check(PRODUCTION, "https://shop.invalid/page") is None
    assert check(PRODUCTION, "http://93.184.216.34/") is None
    assert check(PRODUCTION, "data:text/html,hello") is None


def test_development_allows_loopback_only():
    assert check(DEVELOPMENT, "http://127.0.0.1:8110/") is None
    assert check(DEVELOPMENT, "http://local.invalid/") is None
    assert check(DEVELOPMENT, "http://10.1.2.3/") == "10.1.2.3 is a private address"
    assert check(DEVELOPMENT, "http://metadata.invalid/") is not None


def test_allow_private_allows_everything():
    policy = AddressPolicy(allow_private=True, resolver=fake_resolver)
    assert check(policy, "http://169.254.169.254/") is None and check(policy, "http://intranet.invalid/") is None


def test_configuration_decides_the_policy(settings):
    settings.CONFIG = config.load({"ALLYPROOF_ENV": "test"})
    assert policy_from_config() == AddressPolicy(allow_loopback=True)
    production = {"ALLYPROOF_ENV": "production", "ALLYPROOF_SECRET_KEY": "forgery-test-" + "0123456789abcdef" * 3,
                  "ALLYPROOF_PUBLIC_URL": "https://allyproof.example.test", "ALLYPROOF_BEHIND_PROXY": "0",
                  "ATLASSIAN_CLIENT_ID": "i", "ATLASSIAN_CLIENT_SECRET": "c",
                  "ALLYPROOF_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "="}
    settings.CONFIG = config.load(production)
    assert policy_from_config() == AddressPolicy()
    settings.CONFIG = config.load({**production, "ALLYPROOF_SCAN_ALLOW_PRIVATE": "1"})
    assert policy_from_config() == AddressPolicy(allow_private=True)


# --- in the browser ---------------------------------------------------------------------------


def crawl(start_url, policy):
    events = []
    plan = engine.Plan(rules=discovery.CrawlRules(start_url=start_url, page_cap=10), policy=policy,
                       executable=require_browser(), requests_per_second=0, idle_timeout_s=0.5, page_timeout_s=5)
    in_thread(engine.crawl, plan, lambda kind, value: events.append((kind, value)))
    pages = {v.url.split("/", 3)[-1]: v for k, v in events if k == "page"}
    refused = [v for k, v in events if k == "refused"]
    return pages, refused


@pytest.mark.browser
def test_redirects_and_subresources_to_private_addresses_are_refused():
    with ServedSite({}) as site:
        site.routes.update({
            "/": html('<a href="/to-intranet">a</a> <a href="/hop">b</a> <a href="/images">c</a>'),
            "/to-intranet": redirect("http://intranet.invalid/admin"),
            "/hop": redirect("/hop2"),
            "/hop2": redirect("http://metadata.invalid/latest/meta-data/"),
            "/images": html('<img alt="x" src="http://router.invalid/pixel.png">'
                            '<script src="http://db.invalid/app.js"></script><img alt="y" src="/ok.png">'),
            "/ok.png": (200, {"Content-Type": "image/png"}, b""),
        })
        pages, refused = crawl(site.url + "/", DEVELOPMENT)
    assert pages["to-intranet"].status == "failed"
    assert pages["to-intranet"].reason == ("redirected to a refused address: "
                                           "intranet.invalid resolves to 10.0.0.7, a private address")
    assert pages["hop"].reason == ("redirected to a refused address: "
                                   "metadata.invalid resolves to 169.254.169.254, a cloud metadata address")
    assert pages["images"].status == "scanned"
    refused_urls = {url for url, _ in refused}
    assert {"http://router.invalid/pixel.png", "http://db.invalid/app.js"} <= refused_urls
    assert "/ok.png" in site.requests  # the allowed subresource still loads


@pytest.mark.browser
def test_production_refuses_the_loopback_site_before_connecting():
    with ServedSite({"/": html("<h1>Internal</h1>")}) as site:
        pages, refused = crawl(site.url + "/", AddressPolicy(resolver=fake_resolver))
        assert site.requests == []  # not even robots.txt or the sitemap
    (only,) = pages.values()
    assert only.status == "failed" and only.reason == "refused: 127.0.0.1 is a loopback address"


@pytest.mark.browser
def test_public_name_resolving_to_loopback_is_refused_in_production():
    with ServedSite({"/": html("<h1>Internal</h1>")}) as site:
        port = site.server.server_port
        pages, _ = crawl(f"http://local.invalid:{port}/", AddressPolicy(resolver=fake_resolver))
        assert site.requests == []
    (only,) = pages.values()
    assert only.reason == "refused: local.invalid resolves to 127.0.0.1, a loopback address"


@pytest.mark.browser
def test_subresources_frames_and_fetches_to_a_forbidden_address_never_reach_it():
    """The page's own host is allowed; an image, an iframe, a script, a fetch() and a name that resolves
    there all aim at 127.0.0.2 (loopback, refused by this policy): the server there sees nothing."""
    from .test_proxy import FirstLoopbackOnly

    async def resolver(host):
        if host == "inside.invalid":
            return ["127.0.0.2"]
        raise OSError("not in the test's fake DNS")

    with ServedSite({"/": html("<h1>Internal</h1>"), "/pixel.png": (200, {"Content-Type": "image/png"}, b"")},
                    host="127.0.0.2") as inside, ServedSite({}) as site:
        target = f"http://127.0.0.2:{inside.server.server_port}"
        named = f"http://inside.invalid:{inside.server.server_port}"
        site.routes.update({
            "/": html(f'<img alt="a" src="{target}/pixel.png"><iframe title="f" src="{target}/"></iframe>'
                      f'<script src="{named}/app.js"></script><img alt="b" src="/ok.png">'
                      f'<script>fetch("{target}/api").catch(() => {{}})</script>'),
            "/ok.png": (200, {"Content-Type": "image/png"}, b""),
        })
        pages, refused = crawl(site.url + "/", FirstLoopbackOnly(resolver=resolver))
        assert inside.requests == []
    assert pages[""].status == "scanned"
    assert {f"{target}/pixel.png", f"{target}/", f"{named}/app.js", f"{target}/api"} <= {url for url, _ in refused}
    assert "/ok.png" in site.requests
