"""Extra columns other apps add to a site's violations table (the Jira app adds "Jira"), declared in
allyproof.core.plugs.SITE_TABLE_COLUMNS.

A column computes all its cells for the page in one go (one query, not one per row) and returns
ready-to-render HTML per violation id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.safestring import SafeString

from allyproof.core import plugs


@dataclass(frozen=True)
class Column:
    heading: str
    cells: Callable[[object, list], Cells]


@dataclass(frozen=True)
class Cells:
    heading: str
    by_violation: dict[int, SafeString]

    def get(self, violation_id: int) -> SafeString:
        return self.by_violation.get(violation_id, SafeString('<span class="muted">—</span>'))


def registered() -> list[Column]:
    return list(plugs.plugged(plugs.SITE_TABLE_COLUMNS))
