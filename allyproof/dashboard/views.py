"""The dashboard: what a person can show a client. Thin: selectors read, charts draw, the template
puts each chart beside its data table."""

from __future__ import annotations

from django.shortcuts import render

from allyproof.accounts.decorators import member_required
from allyproof.core import clock

from . import charts, selectors


@member_required
def dashboard(request):
    organization, now = request.membership.organization, clock.now()
    panels = []
    for slug, title, table, draw in (
        ("impact", "Open violations by impact", selectors.open_by_impact(organization=organization, now=now), charts.line),
        ("site", "Open violations by site", selectors.open_by_site(organization=organization, now=now), charts.line),
        ("jira", "Pushed to Jira and done in Jira, per week",
         selectors.pushed_and_done(organization=organization, now=now), charts.bars),
    ):
        panels.append({"slug": slug, "title": title, "table": table, "kind": "bar" if draw is charts.bars else "line",
                       "image": draw(title, table) if table.series else ""})
    return render(request, "dashboard/dashboard.html", {"panels": panels})
