"""Panels other apps add to monitoring's pages, declared in their AppConfig.ready (the scanner adds
"Scan now" and progress to the site page, and failed pages to a scan's page). Monitoring renders them
without importing those apps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[..., dict[str, Any]]  # (request, obj) -> the template's `panel` variable
    page: str = "site"  # "site" (obj is a Site) or "scan" (obj is a Scan)


_panels: list[Panel] = []


def register(panel: Panel) -> None:
    if all((p.name, p.page) != (panel.name, panel.page) for p in _panels):
        _panels.append(panel)


def rendered(page: str, request, obj) -> list[dict[str, Any]]:
    return [{"template": p.template, "data": p.context(request, obj)} for p in _panels if p.page == page]
