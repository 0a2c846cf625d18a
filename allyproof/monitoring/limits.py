"""What one scan upload may hold: the field limits (the README's table) and the checks behind them.

A value we would store whole (a rule id, a description, a page address) is refused when it is too long,
so nothing is silently cut; a sample element's HTML, selector and failure text are excerpts and are cut
to their limit. NUL is refused everywhere: PostgreSQL cannot store it in text or JSON, and no real axe
output has one.
"""

from __future__ import annotations

from typing import Any

from .axe_errors import AxeResultsError

# field -> most characters kept; the README's "Field limits" table lists the same numbers.
REFUSED_ABOVE = {
    "url": 2_000,
    "id": 120,
    "description": 2_000,
    "help": 500,
    "helpUrl": 500,
    "tag": 100,
}
MAX_TAGS = 100
CUT_TO = {"html": 2_000, "target": 1_000, "failureSummary": 2_000, "version": 40}


def no_nul(value: str, path: str) -> str:
    if "\x00" in value:
        raise AxeResultsError("text must not contain the NUL character (\\u0000)", path)
    return value


def text(value: Any, path: str, name: str, *, required: bool = True) -> str:
    """A string we store whole: present (when required), free of NUL, within its limit."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise AxeResultsError(f"'{name}' must be a non-empty string", path)
    limit = REFUSED_ABOVE[name]
    if len(value) > limit:
        raise AxeResultsError(f"'{name}' is {len(value):,} characters; the limit is {limit:,}", f"{path}.{name}")
    return no_nul(value, f"{path}.{name}")


def tags(value: Any, path: str) -> list[str]:
    value = value or []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise AxeResultsError("'tags' must be a list of strings", f"{path}.tags")
    if len(value) > MAX_TAGS:
        raise AxeResultsError(f"'tags' holds {len(value)} tags; the limit is {MAX_TAGS}", f"{path}.tags")
    for index, tag in enumerate(value):
        if len(tag) > REFUSED_ABOVE["tag"]:
            raise AxeResultsError(f"a tag is {len(tag)} characters; the limit is {REFUSED_ABOVE['tag']}",
                                  f"{path}.tags[{index}]")
        no_nul(tag, f"{path}.tags[{index}]")
    return value


def excerpt(value: Any, path: str, name: str) -> str:
    return no_nul(str(value or "")[: CUT_TO[name]], path)


def target(value: Any, path: str) -> list:
    """axe's target: selectors, or lists of selectors for shadow DOM and frames."""
    if isinstance(value, list):
        return [target(item, f"{path}[{i}]") for i, item in enumerate(value[:20])]
    return excerpt(value, path, "target")
