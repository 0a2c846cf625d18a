"""Open violations by impact across a site's scans: the figures, and the chart drawn from them.

The figures come from each scan's recorded changes (ScanChange): what was open after that scan.
The chart is server-rendered SVG from pygal, served as an image (so its own styles need no
exception in the pages' content security policy); the same figures are in a table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygal
from django.db.models import Count
from pygal.style import Style

from allyproof.core import impact as impacts

from .models import Scan, ScanChange, Site

OPEN_CHANGES = (ScanChange.Change.NEW, ScanChange.Change.REOPENED, ScanChange.Change.STILL_OPEN,
                ScanChange.Change.NOT_COVERED)
# Distinguishable in greyscale and by colour-blind readers; the table carries the exact figures.
COLOURS = ("#8b1a1a", "#c85a00", "#6b5b00", "#3d5a80")


@dataclass(frozen=True)
class Point:
    scan: Scan
    counts: dict[str, int]

    @property
    def ordered(self) -> list[int]:
        return [self.counts[impact.value] for impact in impacts.ORDER]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def open_by_impact(*, site: Site, scans: int = 12) -> list[Point]:
    """The last `scans` completed scans, oldest first, with open violations per impact after each."""
    recent = list(Scan.objects.filter(site=site, status=Scan.Status.COMPLETED).order_by("-started_at")[:scans])[::-1]
    rows = (ScanChange.objects.filter(scan__in=recent, change__in=OPEN_CHANGES)
            .values("scan_id", "impact").annotate(n=Count("id")))
    counts: dict[int, dict[str, int]] = {scan.pk: {i.value: 0 for i in impacts.ORDER} for scan in recent}
    for row in rows:
        counts[row["scan_id"]][row["impact"]] = row["n"]
    return [Point(scan, counts[scan.pk]) for scan in recent]


def trend_svg(points: list[Point], *, title: str) -> bytes:
    style = Style(colors=COLOURS, background="white", plot_background="white", foreground="#1b1f24",
                  foreground_strong="#1b1f24", foreground_subtle="#4a5563", font_family="system-ui, sans-serif")
    chart = pygal.StackedBar(style=style, js=[], height=320, width=760, legend_at_bottom=True, title=title,
                             x_label_rotation=0, show_y_guides=True, print_values=False, disable_xml_declaration=False)
    chart.x_labels = [point.scan.started_at.strftime("%-d %b") for point in points]
    for impact in impacts.ORDER:
        chart.add(impact.label, [point.counts[impact.value] for point in points])
    return chart.render()


def trend_arrow(points: list[Point]) -> str:
    """"up", "down" or "flat": open violations after the latest scan against the one before."""
    if len(points) < 2:
        return "flat"
    before, after = points[-2].total, points[-1].total
    return "up" if after > before else "down" if after < before else "flat"


@dataclass(frozen=True)
class SiteTrend:
    previous: int | None
    latest: int | None

    @property
    def direction(self) -> str:
        if self.previous is None or self.latest is None or self.latest == self.previous:
            return "flat"
        return "up" if self.latest > self.previous else "down"

    @property
    def label(self) -> str:
        if self.latest is None:
            return "No scans yet"
        if self.previous is None:
            return "First scan"
        change = self.latest - self.previous
        if not change:
            return "No change since the previous scan"
        return f"{abs(change)} {'more' if change > 0 else 'fewer'} open than the previous scan"


def site_trends(*, site_ids: list[int]) -> dict[int, SiteTrend]:
    """Open violations after each site's last two completed scans: three queries for any number of sites."""
    latest_two: dict[int, list[int]] = {site_id: [] for site_id in site_ids}
    ranked = Scan.objects.filter(site_id__in=site_ids, status=Scan.Status.COMPLETED)
    # Reads every completed scan id of these sites (ids only), because a per-group LIMIT is not portable
    # across SQLite and PostgreSQL in the ORM; fine for hundreds of scans a site.
    for site_id, scan_id in ranked.order_by("site_id", "-started_at").values_list("site_id", "pk").iterator():
        if len(latest_two[site_id]) < 2:
            latest_two[site_id].append(scan_id)
    wanted = [scan_id for ids in latest_two.values() for scan_id in ids]
    totals = dict(ScanChange.objects.filter(scan_id__in=wanted, change__in=OPEN_CHANGES)
                  .values("scan_id").annotate(n=Count("id")).values_list("scan_id", "n"))
    result = {}
    for site_id, ids in latest_two.items():
        values = [totals.get(scan_id, 0) for scan_id in ids]
        result[site_id] = SiteTrend(previous=values[1] if len(values) > 1 else None,
                                    latest=values[0] if values else None)
    return result
