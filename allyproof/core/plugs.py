"""Every place where an app plugs into another's pages or events, declared in one table.

Monitoring and accounts name their hook points; this module says what fills each, in order. Nothing
registers itself at import or in an AppConfig.ready, and no template overrides another app's template,
so this file alone tells a newcomer what runs beside the core (Sentry's integration registry and
Django's MIDDLEWARE setting are the models: a declared list, read where it is used).

Entries are dotted paths: the core never imports an integration at start-up (no import order, no
circles), and an entry whose app is not in INSTALLED_APPS is left out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Panel:
    """A block on a monitoring page. Its template is included in the page's own context (site, violation,
    request, csrf_token); `context(request, obj)`, when given, adds the template's `panel` variable."""

    template: str
    context: Callable[..., dict[str, Any]] | None = None


# The site page, below the summary: "Scan now" and progress, then the Jira sync block.
SITE_PANELS = ("allyproof.scanning.panel.SITE_PANEL", "allyproof.integrations.jira.ui.panels.SITE_BLOCK")
# A scan's page, below its changes: the pages the scanner could not scan.
SCAN_PANELS = ("allyproof.scanning.panel.SCAN_PANEL",)
# A violation's page: beside "Mark resolved", then below the affected pages.
VIOLATION_ACTIONS = ("allyproof.integrations.jira.ui.panels.PUSH_BUTTON",)
VIOLATION_PANELS = ("allyproof.integrations.jira.ui.panels.SYNC_LOG",)
# Extra columns of a site's violations table (monitoring.table_columns.Column).
SITE_TABLE_COLUMNS = ("allyproof.integrations.jira.ui.columns.COLUMN",)
# Sections of Settings → Support's "copy diagnostics" block (accounts.support.Provider).
SUPPORT_DIAGNOSTICS = ("allyproof.integrations.jira.ui.diagnostics.jira_diagnostics",)
# Rows of /health/ after the core's own (core.health.ProductCheck subclasses), in order.
HEALTH_CHECKS = tuple(f"allyproof.integrations.jira.ui.health_checks.{name}"
                      for name in ("LastWebhook", "WebhookRefresh", "Reconciliation", "JiraBudget"))
# Receivers of monitoring.events, run after the ingestion commits.
SCAN_COMPLETED = ("allyproof.integrations.jira.receivers.on_scan_completed",)
VIOLATIONS_FIXED = ("allyproof.integrations.jira.receivers.on_violations_fixed",)


@functools.cache
def plugged(point: tuple[str, ...]) -> tuple[Any, ...]:
    """The objects a hook point names, in order, without those of apps that are not installed."""
    return tuple(import_string(path) for path in point if apps.get_containing_app_config(path) is not None)


def panels(point: tuple[str, ...], request, obj) -> list[dict[str, Any]]:
    return [{"template": panel.template, "data": panel.context(request, obj) if panel.context else {}}
            for panel in plugged(point)]
