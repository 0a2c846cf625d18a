"""What axe-core's tags say about WCAG, for people: success criteria and conformance levels."""

from __future__ import annotations

import re

_CRITERION = re.compile(r"^wcag(\d)(\d)(\d{1,2})$")
_LEVEL = re.compile(r"^wcag(2|21|22)(a{1,3})$")
_VERSIONS = {"2": "2.0", "21": "2.1", "22": "2.2"}


def criteria(tags: list[str]) -> list[str]:
    """['wcag2aa', 'wcag143'] -> ['1.4.3']"""
    found = []
    for tag in tags:
        match = _CRITERION.match(tag)
        if match:
            found.append(".".join(match.groups()))
    return found


def levels(tags: list[str]) -> list[str]:
    """['wcag2aa', 'wcag21a'] -> ['WCAG 2.0 AA', 'WCAG 2.1 A']"""
    found = []
    for tag in tags:
        match = _LEVEL.match(tag)
        if match:
            found.append(f"WCAG {_VERSIONS[match.group(1)]} {match.group(2).upper()}")
    return found


def labels(tags: list[str]) -> list[str]:  # all of axe's tags, not only the wcag* ones
    """Short labels for a table cell: levels first, then criteria; 'best practice' when not WCAG."""
    result = levels(tags) + criteria(tags)
    if not result and "best-practice" in tags:
        result = ["Best practice"]
    return result
