"""Jira's machine words as sentences a person reads (the webhook filter, key lists). Pure."""

from __future__ import annotations

import re

_KEYS = re.compile(r"project\s+(?:IN\s*\(([^)]*)\)|=\s*\"?([A-Z][A-Z0-9_]*)\"?)", re.IGNORECASE)


def join_words(items: list[str]) -> str:
    """ACME; ACME and BETA; ACME, BETA and CORP."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def projects_in_words(jql: str) -> str:
    keys: list[str] = []
    for listed, single in _KEYS.findall(jql or ""):
        for key in (listed.split(",") if listed else [single]):
            key = key.strip().strip('"')
            if key and key not in keys:
                keys.append(key)
    return join_words(keys) if keys else "no project"
