"""Reads for the dashboard: an organization's open violations over time (by impact, by site) and what
went to Jira and came back done, per week. Pure over rows the app keeps; takes `now`.

Open on a day = first detected on or before it and not resolved by then. A violation that was resolved
and later reopened counts as open from its first detection (we keep its latest resolution only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allyproof.accounts.models import Organization
from allyproof.core import impact as impacts
from allyproof.integrations.jira.models import JiraLink
from allyproof.integrations.jira.inbound.sync_apply import JIRA_SOURCE
from allyproof.monitoring.models import Violation

WEEKS = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Table:
    points: tuple[dt.datetime, ...]  # the end of each week
    series: tuple[Series, ...]

    @property
    def rows(self) -> list[tuple[dt.datetime, list[int]]]:
        return [(p, [s.values[i] for s in self.series]) for i, p in enumerate(self.points)]


def week_ends(now: dt.datetime, weeks: int = WEEKS) -> tuple[dt.datetime, ...]:
    return tuple(now - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks))


def _open_at(rows, when: dt.datetime) -> list:
    return [r for r in rows if r[2] <= when and (r[3] is None or r[3] > when)]


def _rows(organization: Organization):
    # (site name, impact, first detected, resolved at or None)
    return [(site, impact, first, resolved if status == Violation.Status.RESOLVED else None)
            for site, impact, first, resolved, status in Violation.objects.filter(site__organization=organization)
            .values_list("site__name", "impact", "first_detected_at", "resolved_at", "status")]


def open_by_impact(*, organization: Organization, now: dt.datetime) -> Table:
    points, rows = week_ends(now), _rows(organization)
    by_point = [_open_at(rows, p) for p in points]
    return Table(points, tuple(Series(impact.label, tuple(sum(1 for r in at if r[1] == impact) for at in by_point))
                               for impact in impacts.ORDER))


def open_by_site(*, organization: Organization, now: dt.datetime) -> Table:
    points, rows = week_ends(now), _rows(organization)
    sites = sorted(organization.sites.filter(active=True).values_list("name", flat=True))
    by_point = [_open_at(rows, p) for p in points]
    return Table(points, tuple(Series(name, tuple(sum(1 for r in at if r[0] == name) for at in by_point))
                               for name in sites))


def pushed_and_done(*, organization: Organization, now: dt.datetime) -> Table:
    """Per week: violations pushed to Jira (linked), and violations Jira resolved (moved to Done)."""
    points = week_ends(now)
    linked = list(JiraLink.objects.filter(organization=organization, linked_at__isnull=False)
                  .values_list("linked_at", flat=True))
    done = list(Violation.objects.filter(site__organization=organization, status=Violation.Status.RESOLVED,
                                         resolved_source__startswith=JIRA_SOURCE).values_list("resolved_at", flat=True))

    def per_week(times) -> tuple[int, ...]:
        return tuple(sum(1 for t in times if t and p - dt.timedelta(weeks=1) < t <= p) for p in points)

    return Table(points, (Series("Pushed to Jira", per_week(linked)), Series("Done in Jira", per_week(done))))
