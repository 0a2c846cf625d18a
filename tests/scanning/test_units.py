"""Pure parts of the scanner: URL normalisation, discovery rules, sitemaps, schedules."""

import datetime as dt

import pytest

from allyproof.scanning import schedule
from allyproof.scanning.discovery import CrawlRules, Frontier, sitemap_locations
from allyproof.scanning.urls import normalise

pytestmark = []


@pytest.mark.parametrize(("raw", "query", "expected"), [
    ("HTTP://WWW.Example.COM:80/a/#top", "sort", "http://www.example.com/a"),
    ("https://example.com:443", "sort", "https://example.com/"),
    ("https://example.com:8443/x/", "sort", "https://example.com:8443/x"),
    ("https://example.com/?b=2&a=1&utm_source=news", "sort", "https://example.com/?a=1&b=2"),
    ("https://example.com/?b=2&a=1", "keep", "https://example.com/?b=2&a=1"),
    ("https://example.com/p?b=2&a=1", "drop", "https://example.com/p"),
    ("https://example.com/caf%c3%a9", "sort", "https://example.com/caf%C3%A9"),
    ("https://example.com/café", "sort", "https://example.com/caf%C3%A9"),
    ("mailto:someone@example.com", "sort", None),
    ("javascript:alert(1)", "sort", None),
    ("https://example.com:notaport/", "sort", None),
])
def test_normalise(raw, query, expected):
    assert normalise(raw, query=query) == expected


def test_relative_links_resolve_against_the_page():
    assert normalise("../b?x=1#f", base="https://example.com/a/c") == "https://example.com/b?x=1"


def test_frontier_rules_and_caps():
    frontier = Frontier(CrawlRules(start_url="https://example.com/", include=("/blog/*",), exclude=("/blog/drafts/*",),
                                   page_cap=4, depth_cap=2))
    assert frontier.add("https://example.com/", 0, entry=True)  # the start page, though not included
    assert frontier.add("/blog/one", 1, base="https://example.com/")
    assert not frontier.add("/blog/one#comments", 1, base="https://example.com/")  # the same page
    assert not frontier.add("https://other.example/blog/x", 1)
    assert not frontier.add("https://example.com/about", 1)
    assert not frontier.add("https://example.com/blog/drafts/x", 1)
    assert not frontier.add("https://example.com/blog/deep", 3)
    assert frontier.excluded == {"https://example.com/about": "not in the include patterns",
                                 "https://example.com/blog/drafts/x": "in the exclude patterns",
                                 "https://example.com/blog/deep": "deeper than the depth cap"}
    assert frontier.add("https://example.com/blog/two", 1) and frontier.add("https://example.com/blog/three", 1)
    assert not frontier.add("https://example.com/blog/four", 1)  # the page cap
    assert frontier.found == 4


def test_robots_txt_is_honoured_unless_switched_off():
    on = Frontier(CrawlRules(start_url="https://example.com/"))
    sitemaps = on.set_robots("User-agent: *\nDisallow: /private\nSitemap: https://example.com/s.xml\n")
    assert sitemaps == ["https://example.com/s.xml"]
    assert not on.add("https://example.com/private/x", 1) and on.excluded["https://example.com/private/x"] == (
        "disallowed by robots.txt")
    off = Frontier(CrawlRules(start_url="https://example.com/", respect_robots=False))
    off.set_robots("User-agent: *\nDisallow: /private\n")
    assert off.add("https://example.com/private/x", 1)


def test_sitemaps_and_indexes_and_bad_xml():
    urlset = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              b"<url><loc> https://example.com/a </loc></url><url><loc>https://example.com/b</loc></url></urlset>")
    assert sitemap_locations(urlset) == (["https://example.com/a", "https://example.com/b"], [])
    index = (b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://example.com/s2.xml</loc></sitemap></sitemapindex>")
    assert sitemap_locations(index) == ([], ["https://example.com/s2.xml"])
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>'
    assert sitemap_locations(bomb) == ([], [])  # entities refused, not expanded
    assert sitemap_locations(b"<html>not a sitemap") == ([], [])


MON_0900 = dt.time(9, 0)


@pytest.mark.parametrize(("kind", "now", "slot"), [
    ("daily", dt.datetime(2026, 12, 1, 8, 59, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)),
    ("daily", dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)),
    ("weekly", dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)),  # Tue
    ("weekly", dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)),  # Mon early
    ("off", dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), None),
])
def test_latest_slot(kind, now, slot):
    assert schedule.latest_slot(schedule=kind, at=MON_0900, weekday=0, now=now) == slot


def test_a_schedule_never_fires_for_slots_before_it_was_set():
    since = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    args = dict(schedule="daily", at=MON_0900, weekday=0, since=since)
    assert schedule.due_slot(now=dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), **args) is None
    assert schedule.due_slot(now=dt.datetime(2026, 12, 2, 9, 1, tzinfo=dt.UTC), **args) == dt.datetime(
        2026, 12, 2, 9, tzinfo=dt.UTC)
