"""Benchmark: the site page (GET /sites/<id>/) with 10,000 violations, without and with Jira sync.

    .venv/bin/python bench/site_page.py                   # 10,000 violations, 7 timed runs, throwaway SQLite
    .venv/bin/python bench/site_page.py --violations 2000 --runs 5
    .venv/bin/python bench/site_page.py --db postgres://postgres@127.0.0.1:5432/bench_site_page

In one process (ALLYPROOF_ENV=test, a throwaway SQLite in a temporary directory unless --db): migrate,
create an organization, a member, a site with one completed scan and N open violations written with
bulk_create from real axe-core rule metadata (bench/_axe_generator.py's pool of 61 rules: rule ids
"<rule>-<n>" as the site can hold one violation per rule, impacts, help texts, help URLs, tags, 20
page URLs and 3 to 5 samples each). The member's Django test Client then GETs the page: one warm-up,
then --runs timed requests (the whole server side: middleware, session, view, queries, template;
no network). The table shows one page of 100 rows; the picker checklist loads separately when opened.

Then Jira is connected (a JiraConnection row, status active, and the site's SiteSyncRule enabled
for project ACME with all four severities; 20 % of the violations get a linked JiraLink so the Jira
column shows keys): the "Jira sync" block now lists the other 80 % in its picker and the table gets a
Jira column. Nothing calls Jira on render. The same runs again.

For each: median and p95 of the timed runs, HTML size, SQL queries (CaptureQueriesContext), and the
same query count on a 100-violation site (equal counts: no query per row). Then a breakdown of one
request: the view's context (_site_page_context: queries and row objects), the Jira block's
selector (site_block), and the rest (template rendering and middleware), plus cProfile's top entries.

Target (proposed, DESIGN §12 gives none): p95 ≤ 1 s for the page with 10,000 violations, with and
without Jira; the query count independent of the number of violations.
The test suite asserts behaviour; this prints figures (see docs/benchmarks.md) and asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))
TARGET_P95_S = 1.0


def _configure(db: str | None) -> None:
    os.environ.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=tempfile.mkdtemp(prefix="allyproof-bench-site-"),
                      DJANGO_SETTINGS_MODULE="allyproof.settings", ALLYPROOF_PUBLIC_URL="http://testserver")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    if db:
        os.environ["DATABASE_URL"] = db
    import django

    django.setup()


def world(n_violations: int, name: str):
    from allyproof.core import clock
    from allyproof.monitoring.models import Scan, Violation
    from tests import factories
    from _axe_generator import load_pool

    rules = list(load_pool()["failing"].values())
    org = factories.organization(name)
    member = factories.member(org, f"member@{name.lower().replace(' ', '-')}.test", "member")
    host = f"www.{name.lower().replace(' ', '-')}.example"
    site = factories.site(org, name, f"https://{host}/")
    now = clock.now()
    scan = Scan.objects.create(site=site, status="completed", source="command", pages_scanned=5000,
                               violations_found=n_violations, new_violations=n_violations, axe_version="4.12.1",
                               started_at=now, completed_at=now)
    sections = ["products/tents", "products/backpacks", "journal", "stores", "help/returns", "about"]
    violations = []
    for i in range(n_violations):
        rule = rules[i % len(rules)]
        meta = rule["meta"]
        samples = [{"target": t["target"], "html": t["html"], "failure_summary": t["failureSummary"]}
                   for t in (rule["templates"] * 5)[: 3 + i % 3]]
        pages = [f"https://{host}/{sections[(i + p) % len(sections)]}/item-{(i * 7 + p) % 997}/" for p in range(20)]
        violations.append(Violation(
            site=site, rule_id=f"{meta['id']}-{i // len(rules)}", impact=rule["impact"], description=meta["description"],
            help=meta["help"], help_url=meta["helpUrl"], tags=meta["tags"],
            wcag_tags=[t for t in meta["tags"] if t.startswith("wcag")], page_count=20 + i % 480,
            element_count=40 + i % 900, pages=pages, samples=samples, first_detected_at=now, last_detected_at=now,
            first_scan=scan, last_scan=scan))
    Violation.objects.bulk_create(violations, batch_size=1000)
    return org, member, site


def connect_jira(org, site, linked_share: float) -> int:
    import hashlib

    from allyproof.core import clock
    from allyproof.integrations.jira.models import JiraConnection, JiraLink, SiteSyncRule
    from jira_sandbox import DEMO_AGENCY_ID

    now = clock.now()
    JiraConnection.objects.create(
        organization=org, status=JiraConnection.Status.ACTIVE, cloud_id=DEMO_AGENCY_ID, site_name="Demo Agency",
        site_url="https://demo-agency.atlassian.net", scopes="read:jira-work write:jira-work", connected_at=now)
    SiteSyncRule.objects.update_or_create(site=site, defaults=dict(
        enabled=True, project_key="ACME", severities=["critical", "serious", "moderate", "minor"],
        issue_type_id="10004", issue_type_name="Bug", updated_at=now))
    ids = list(site.violations.order_by("pk").values_list("pk", flat=True))
    step = round(1 / linked_share)
    links = [JiraLink(organization=org, violation_id=vid, cloud_id=DEMO_AGENCY_ID,
                      dedupe_key=hashlib.sha256(f"{org.pk}:{vid}".encode()).hexdigest(), status=JiraLink.Status.LINKED,
                      project_key="ACME", issue_key=f"ACME-{n + 1}", issue_id=str(10000 + n),
                      issue_url=f"https://demo-agency.atlassian.net/browse/ACME-{n + 1}", created_at=now, linked_at=now)
             for n, vid in enumerate(ids[::step])]
    JiraLink.objects.bulk_create(links, batch_size=1000)
    return len(links)


class QueryCounter:
    """Counts every SQL statement the request runs. (CaptureQueriesContext around a test-Client request
    reports nothing here: Django's request_started signal empties the connection's query log.)"""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def count_queries(client, url: str) -> int:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return counter.count


def timed_gets(client, url: str, runs: int) -> tuple[list[float], int, int]:
    response = client.get(url)  # warm-up (templates compiled, caches filled)
    assert response.status_code == 200, response.status_code
    queries = count_queries(client, url)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
    return times, len(response.content), queries


def breakdown(client, url: str, site) -> dict[str, float]:
    """One request timed whole, then its two data-building parts called on their own."""
    from django.test import RequestFactory

    from allyproof.integrations.jira.ui import selectors as jira_selectors
    from allyproof.monitoring import views

    started = time.perf_counter()
    client.get(url)
    total = time.perf_counter() - started
    request = RequestFactory().get(url)
    started = time.perf_counter()
    context = views._site_page_context(request, site)
    view_context = time.perf_counter() - started
    started = time.perf_counter()
    block = jira_selectors.site_block(site=site)
    site_block = time.perf_counter() - started
    return {"total": total, "view context (queries, rows, labels, columns)": view_context,
            "Jira block selector (site_block)": site_block,
            "the rest: template rendering, middleware": total - view_context - site_block,
            "rows": len(context["violations"]), "picker": len(block.get("ready", []))}


def profile(client, url: str, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"allyproof/|django/template/(base|loader_tags|defaulttags)|query\.py.*_fetch_all", top)
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines()
             if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced", "function calls"))]
    return "\n".join(lines).replace(str(REPO_ROOT) + "/", "").replace(sys.prefix + "/", "")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--violations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", help="postgres://… URL of a scratch database (default: throwaway SQLite)")
    parser.add_argument("--profile", type=int, default=25, help="cProfile entries to print (0: none)")
    args = parser.parse_args()
    _configure(args.db)

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    org, member, site = world(args.violations, "Northwind Outdoor")
    small_org, small_member, small_site = world(100, "Small Shop")
    print(f"world: {args.violations} + 100 violations written in {time.perf_counter() - started:.1f} s")
    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if vendor == "sqlite" else "show server_version")
        database = f"{'SQLite' if vendor == 'sqlite' else 'PostgreSQL'} {cursor.fetchone()[0]}"
    web, small_web = Client(), Client()
    web.force_login(member)
    small_web.force_login(small_member)
    url, small_url = f"/sites/{site.pk}/", f"/sites/{small_site.pk}/"

    results = {}
    for label in ("without Jira", "Jira connected, sync rule on"):
        if label != "without Jira":
            linked = connect_jira(org, site, 0.2)
            connect_jira(small_org, small_site, 0.2)
            print(f"Jira connected: {linked} of {args.violations} violations linked, the rest pushable")
        load_before = os.getloadavg()[0]
        times, size, queries = timed_gets(web, url, args.runs)
        results[label] = {
            "times": times, "size": size, "queries": queries, "small": timed_gets(small_web, small_url, args.runs),
            "breakdown": breakdown(web, url, site), "load": (load_before, os.getloadavg()[0]),
        }

    print(f"\ndatabase {database}; {args.runs} timed GETs each after one warm-up; Django test Client (server side only)")
    print(f"\n{'page':<30} {'median':>8} {'p95':>8} {'min':>8} {'max':>8} {'HTML':>9} {'queries':>8} "
          f"{'at 100':>7} {'load avg':>11}  {'100-violation page: median, HTML':>32}")
    for label, r in results.items():
        t = r["times"]
        print(f"{label:<30} {statistics.median(t):>7.3f}s {pct(t, 95):>7.3f}s {min(t):>7.3f}s {max(t):>7.3f}s "
              f"{r['size'] / 1e6:>7.2f}MB {r['queries']:>8} {r['small'][2]:>7} "
              f"{r['load'][0]:>5.2f}/{r['load'][1]:<5.2f}  {statistics.median(r['small'][0]):>20.3f}s "
              f"{r['small'][1] / 1e3:>7.0f}KB")
    print("\n'at 100' = the same page's query count for a site with 100 violations (same count: no query per row)")
    print("cost per table row, from the two sites' medians: " + ", ".join(
        f"{label} {(statistics.median(r['times']) - statistics.median(r['small'][0])) / (args.violations - 100) * 1e3:.3f} ms"
        for label, r in results.items()))
    print(f"\ntarget   p95 ≤ {TARGET_P95_S:.0f} s with {args.violations} violations; queries independent of N")
    for label, r in results.items():
        p95 = pct(r["times"], 95)
        print(f"  {label:<30} p95 {p95:.3f} s -> {'PASS' if p95 <= TARGET_P95_S else 'MISS'};  queries "
              f"{r['queries']} vs {r['small'][2]} at 100 -> {'PASS' if r['queries'] == r['small'][2] else 'MISS'}")
    print("\nwhere one request's time goes (single request, then its parts called on their own):")
    for label, r in results.items():
        b = r["breakdown"]
        print(f"  {label}: {b['rows']} rows in the table, {b['picker']} in the picker")
        for part, seconds in b.items():
            if part not in ("rows", "picker"):
                print(f"    {part:<48} {seconds:7.3f} s  {seconds / b['total']:6.1%}")
    if args.profile:
        print(f"\ncProfile of one request with Jira connected (profiling slows it down): our code, template tags and "
              f"queries by cumulative time, then the top {args.profile} by own time:")
        print(profile(web, url, args.profile))
    print(f"\nload average (1 min) before/after each page's runs shown above, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
