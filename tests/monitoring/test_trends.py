"""Open violations by impact across scans: the figures behind the chart, the chart itself, the sites list."""

import datetime as dt

from allyproof.monitoring import trends
from tests import factories
from tests.monitoring.test_coverage import A, B, page

T = [dt.datetime(2026, 11, d, 9, tzinfo=dt.UTC) for d in (1, 8, 15)]


def impact_page(url, **rules):
    result = page(url, *rules)
    for violation in result["violations"]:
        violation["impact"] = rules[violation["id"]]
    return result


def test_open_by_impact_after_each_scan(site):
    factories.ingest(site, [impact_page(A, label="serious"), impact_page(B, **{"image-alt": "critical"})], scanned_at=T[0])
    factories.ingest(site, [impact_page(A, label="serious")], scanned_at=T[1])  # B not covered: image-alt stays open
    factories.ingest(site, [impact_page(A, label="serious"), page(B)], scanned_at=T[2])  # now image-alt is fixed
    points = trends.open_by_impact(site=site)
    assert [p.scan.started_at for p in points] == T
    assert [(p.counts["critical"], p.counts["serious"], p.total) for p in points] == [(1, 1, 2), (1, 1, 2), (0, 1, 1)]
    svg = trends.trend_svg(points, title="Open violations").decode()
    assert svg.lstrip().startswith("<?xml") and 'href="http' not in svg and "Critical" in svg and "15 Nov" in svg
    trend = trends.site_trends(site_ids=[site.pk])[site.pk]
    assert (trend.previous, trend.latest, trend.direction) == (2, 1, "down")
    assert trend.label == "1 fewer open than the previous scan"


def test_site_page_has_the_chart_and_its_table(client, member_user, site):
    factories.ingest(site, [impact_page(A, **{"image-alt": "critical"})], scanned_at=T[0])
    factories.ingest(site, [impact_page(A, **{"image-alt": "critical", "label": "minor"})], scanned_at=T[1])
    client.force_login(member_user)
    html = client.get(f"/sites/{site.pk}/").content.decode()
    assert f'src="/sites/{site.pk}/trend.svg"' in html and 'id="trend-table"' in html
    chart = client.get(f"/sites/{site.pk}/trend.svg")
    assert chart["Content-Type"] == "image/svg+xml" and b"Minor" in chart.content
    assert "script-src" not in chart["Content-Security-Policy"] and "default-src 'none'" in chart["Content-Security-Policy"]
    assert "1 more open than the previous scan" in client.get("/sites/").content.decode()


def test_another_organizations_chart_is_not_found(client, other_org, site):
    outsider = factories.member(other_org, "outsider@other.test", "admin")
    client.force_login(outsider)
    assert client.get(f"/sites/{site.pk}/trend.svg").status_code == 404
