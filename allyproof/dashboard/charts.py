"""Server-rendered SVG charts (pygal) for the dashboard, embedded as data: images so the page's CSP
(no inline styles) holds: an image cannot run script and carries its own styles. Every chart has the
same numbers in a table beside it; the image's text alternative points there."""

from __future__ import annotations

import pygal
from pygal.style import Style

from allyproof.accounts.templatetags.org_time import format_when

from .selectors import Table

# The product's impact colours and accent, each at least 3:1 against white (WCAG 1.4.11).
PALETTE = ("#a4161a", "#b54708", "#7a5a00", "#3b5068", "#0b5cad", "#1a7f37", "#6639ba", "#1b1f24")
STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1b1f24", foreground_strong="#1b1f24",
              foreground_subtle="#4a5563", colors=PALETTE, font_family="system-ui, sans-serif",
              label_font_size=12, major_label_font_size=12, legend_font_size=13, title_font_size=15)


def _labels(table: Table) -> list[str]:
    return [format_when(p, "j M") for p in table.points]


def counts_axis(top: int, ticks: int = 8) -> list[int]:
    """Whole-number ticks from 0 to at least `top`: the charts count violations, and pygal's own scale
    would label a chart of zeros 0.1, 0.2, …"""
    step = max(1, -(-top // ticks))
    return list(range(0, max(top, 1) + step, step))


def _chart(kind, title: str, table: Table) -> str:
    # truncate_label=-1: the bar chart's narrower slots cut "15 Oct UTC" to "15 Oct U…"; the line charts' did not.
    chart = kind(style=STYLE, js=[], width=720, height=320, show_dots=True, dots_size=3, legend_at_bottom=True,
                 x_label_rotation=0, include_x_axis=True, title=title, truncate_legend=-1, truncate_label=-1)
    chart.x_labels = _labels(table)
    chart.y_labels = counts_axis(max((v for series in table.series for v in series.values), default=0))
    for series in table.series:
        chart.add(series.name, list(series.values))
    return chart.render_data_uri()


def line(title: str, table: Table) -> str:
    return _chart(pygal.Line, title, table)


def bars(title: str, table: Table) -> str:
    return _chart(pygal.Bar, title, table)
