"""The dashboard: open violations by impact and by site over eight weeks, pushed vs done in Jira,
each an SVG chart (pygal, server-rendered) with the same numbers in a table."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from django.test import Client

from allyproof.core import clock
from allyproof.dashboard import charts, selectors
from allyproof.integrations.jira.models import JiraLink
from allyproof.monitoring.models import Violation
from tests import factories


@pytest.fixture
def history(org, site):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    now = clock.now()
    v = list(Violation.objects.filter(site=site).order_by("pk"))
    old = now - dt.timedelta(weeks=3)
    Violation.objects.filter(pk__in=[x.pk for x in v[:4]]).update(first_detected_at=old)  # open 3 weeks ago
    Violation.objects.filter(pk=v[0].pk).update(status="resolved", resolved_at=now - dt.timedelta(weeks=1, days=1),
                                                resolved_source="jira:ACME-1")
    JiraLink.objects.create(organization=org, violation=v[0], cloud_id="c", dedupe_key="d" * 64, status="linked",
                            project_key="ACME", issue_key="ACME-1", created_at=old, linked_at=old + dt.timedelta(hours=1))
    factories.site(org, "BetaCorp", "https://www.betacorp.example/")
    return {"now": now, "violations": v}


def test_open_violations_by_impact_over_time(org, history):
    table = selectors.open_by_impact(organization=org, now=history["now"])
    assert [s.name for s in table.series] == ["Critical", "Serious", "Moderate", "Minor"]
    totals = [sum(s.values[i] for s in table.series) for i in range(len(table.points))]
    assert totals[-1] == Violation.objects.filter(status="open").count() == 21
    assert totals[0] == 0  # eight weeks ago nothing was detected yet
    assert totals[-4] == 4 and totals[-2] == 3  # four open three weeks ago, one resolved since


def test_open_by_site_and_pushed_vs_done(org, history):
    by_site = selectors.open_by_site(organization=org, now=history["now"])
    assert [(s.name, s.values[-1]) for s in by_site.series] == [("ACME Dental", 21), ("BetaCorp", 0)]
    jira = selectors.pushed_and_done(organization=org, now=history["now"])
    assert [(s.name, sum(s.values)) for s in jira.series] == [("Pushed to Jira", 1), ("Done in Jira", 1)]
    assert jira.series[0].values[-3] == 1 and jira.series[1].values[-2] == 1  # (week start, week end]


def test_the_page_shows_each_chart_with_its_table(org, history, member_user, other_org):
    client = Client()
    client.force_login(member_user)
    body = client.get("/dashboard/").content.decode()
    images = re.findall(r'<img src="data:image/svg\+xml;charset=utf-8;base64,([^"]+)" alt="([^"]+)"', body)
    assert [alt for _, alt in images] == [
        "Open violations by impact: line chart; the same numbers are in the table beside it.",
        "Open violations by site: line chart; the same numbers are in the table beside it.",
        "Pushed to Jira and done in Jira, per week: bar chart; the same numbers are in the table beside it."]
    svg = base64.b64decode(images[0][0]).decode()
    assert "<svg" in svg[:200] and "Critical" in svg  # an <img>: its inline pygal script never runs
    assert body.count('class="data chart-data"') == 3
    assert "<caption>Open violations by site, as numbers</caption>" in body
    assert re.search(r"<th scope=\"row\"><time[^>]*>[^<]+ UTC</time></th><td>21</td><td>0</td>", body)
    outsider = factories.member(other_org, "o@other.test", "admin")
    client.force_login(outsider)
    assert "ACME Dental" not in client.get("/dashboard/").content.decode()
    assert Client().get("/dashboard/").status_code == 302


@pytest.mark.parametrize(("top", "ticks"), [(0, [0, 1]), (1, [0, 1]), (8, list(range(9))), (18, [0, 3, 6, 9, 12, 15, 18]),
                                            (22, [0, 3, 6, 9, 12, 15, 18, 21, 24])])
def test_the_count_axis_has_whole_number_ticks_up_to_the_top(top, ticks):
    assert charts.counts_axis(top) == ticks


def test_every_chart_labels_whole_counts_and_whole_week_names(org, history, member_user):
    """The bar chart of a quiet organization once read 0.1, 0.2, … on its count axis and "15 Oct U…" under
    its bars (pygal's defaults)."""
    client = Client()
    client.force_login(member_user)
    body = client.get("/dashboard/").content.decode()
    for encoded in re.findall(r'<img src="data:image/svg\+xml;charset=utf-8;base64,([^"]+)"', body):
        svg = base64.b64decode(encoded).decode()
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert not [label for label in labels if re.fullmatch(r"\d+\.\d+", label)], labels
        assert not [label for label in labels if "…" in label], labels
        assert sum(1 for label in labels if label.endswith(" UTC")) >= 8
