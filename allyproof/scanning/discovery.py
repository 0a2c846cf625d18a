"""What to scan: robots.txt, sitemaps, same-origin links, the site's patterns and caps. Pure, no I/O.

robots.txt is parsed by Protego (the modern conventions: wildcards, Allow/Disallow precedence,
Sitemap lines). Sitemaps are parsed here with defusedxml rather than ultimate-sitemap-parser,
because that library fetches sitemaps with its own HTTP client, which would bypass the scanner's
address checks and its politeness limit; parsing <loc> elements is all we need of it.
"""

from __future__ import annotations

import fnmatch
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from defusedxml import ElementTree
from protego import Protego

from .urls import normalise, origin

USER_AGENT = "AllyProofScanner"
SITEMAP_LIMIT = 50  # sitemap files read per scan (an index of indexes must not run forever)


@dataclass(frozen=True)
class CrawlRules:
    start_url: str
    include: tuple[str, ...] = ()  # glob patterns on the path (+query): "/blog/*"; empty = everything
    exclude: tuple[str, ...] = ()
    page_cap: int = 200
    depth_cap: int = 5
    respect_robots: bool = True
    query: str = "sort"


def sitemap_locations(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index; ([], []) when unreadable."""
    try:
        root = ElementTree.fromstring(xml)
    except Exception:  # defusedxml raises its own types for entity bombs; either way: not a sitemap
        return [], []
    locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text]
    if root.tag.rsplit("}", 1)[-1] == "sitemapindex":
        return [], locs
    return locs, []


@dataclass
class Frontier:
    """Pages to visit, breadth first, each normalised URL once, within the site's rules and caps."""

    rules: CrawlRules
    robots: Protego | None = None
    queue: deque[tuple[str, int]] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    excluded: dict[str, str] = field(default_factory=dict)  # url -> why it is not scanned

    def __post_init__(self) -> None:
        self.origin = origin(normalise(self.rules.start_url) or self.rules.start_url)

    def set_robots(self, text: str) -> list[str]:
        """Reads robots.txt; returns the sitemaps it lists."""
        self.robots = Protego.parse(text)
        return list(self.robots.sitemaps)

    def why_not(self, url: str, depth: int, entry: bool = False) -> str | None:
        if origin(url) != self.origin:
            return "another site"
        if depth > self.rules.depth_cap:
            return "deeper than the depth cap"
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if self.rules.include and not entry and not any(fnmatch.fnmatchcase(target, p) for p in self.rules.include):
            return "not in the include patterns"
        if any(fnmatch.fnmatchcase(target, p) for p in self.rules.exclude):
            return "in the exclude patterns"
        if self.rules.respect_robots and self.robots is not None and not self.robots.can_fetch(url, USER_AGENT):
            return "disallowed by robots.txt"
        return None

    def add(self, raw: str, depth: int, base: str | None = None, entry: bool = False) -> bool:
        """`entry`: the start page, scanned even when the include patterns leave it out (links start there)."""
        url = normalise(raw, query=self.rules.query, base=base)
        if url is None or url in self.seen:
            return False
        if len(self.seen) >= self.rules.page_cap:
            return False  # the cap also bounds endless calendars: /calendar?month=... never ends
        reason = self.why_not(url, depth, entry)
        if reason:
            if reason != "another site" and len(self.excluded) < 1000:
                self.excluded[url] = reason
            return False
        self.seen.add(url)
        self.queue.append((url, depth))
        return True

    def next(self) -> tuple[str, int] | None:
        return self.queue.popleft() if self.queue else None

    @property
    def found(self) -> int:
        return len(self.seen)
