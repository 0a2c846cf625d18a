"""Benchmark: two Huey consumers against one on a many-tenant push backlog (PostgreSQL, sandbox served).

    .venv/bin/python bench/consumers.py                        # 6 tenants × 20 violations, 1 then 2 consumers
    .venv/bin/python bench/consumers.py --tenants 4 --violations 10
    .venv/bin/python bench/consumers.py --pg postgres://postgres@127.0.0.1:5432/
    .venv/bin/python bench/consumers.py --tenants 8 --violations 30 --consumers 1x8,2x8,4x8 --pool 1000000
        # arrival pacing at 100 % CPU: a pool so large that per-site pacing is the floor
    .venv/bin/python bench/consumers.py --redis redis://127.0.0.1:6379/9 ...   # the Redis gate and queue

What runs, all on this machine:
  * PostgreSQL: a scratch database bench_consumers_<pid> is created on the --pg server and dropped at the end;
  * the Jira sandbox in its own process (`python -m jira_sandbox serve --auto-approve --index-delay 0
    --config <world.json>`), with a world of --tenants Jira Cloud sites (one per tenant: Atlassian's
    limits and our pacing are per site, i.e. per cloud id), each with an ACME project; rate limits are
    the sandbox's defaults;
  * this process (Django, ALLYPROOF_ENV=test) builds the world through the product: per tenant an
    organization, an admin who connects Jira through the real OAuth flow over HTTP (connect, consent,
    callback, choose the tenant's own site), two client sites with --violations open violations each
    (real axe-core rule metadata), and sync rules saved with rules.rules_save (project ACME, all
    severities; Jira's createmeta is checked over HTTP);
  * `manage.py run_huey --workers 1 --no-periodic --delay 0.1 --max-delay 0.5` consumers (DATABASE_URL =
    the scratch database, ATLASSIAN_AUTH_URL/ATLASSIAN_API_URL = the sandbox, JIRA_PUSH_INTERVAL_MS, and
    the same ALLYPROOF_DATA_DIR, so the same SqliteHuey queue file). With --redis (an empty Redis
    database: the bench refuses one with keys), REDIS_URL is set for this process and the consumers, so
    the queue, the pacing gate and the points budget are Redis's, as in production.

Two rounds, each on fresh violations (round 1 pushes every tenant's first client site, round 2 the
second): one bulk push job per tenant is created with jobs.push_job_create(enqueue=tasks.run_push_job) (one Huey task
each), then 1 consumer (round 1) or 2 consumers (round 2) are started and the clock runs until every job
of the round is completed. Reported: wall time from starting the consumers (includes their start-up),
the span from the first job's start to the last job's finish (database timestamps), pushes and Jira
calls per second, and the speed-up. One consumer runs the tenants' jobs one after another, each paced at
--interval-ms per site; two consumers run two tenants (two sites) at once, so expect close to 2×.

Target (proposed from that reasoning): speed-up ≥ 1.8× with 2 consumers, on the span (consumer start-up,
~1-2 s of Django set-up either way, is not a throughput matter); every violation pushed exactly once.
The test suite asserts behaviour; this prints figures (see docs/benchmarks.md) and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from allyproof.core import impact as impacts

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))
TARGET_SPEEDUP = 1.8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def sandbox_world(tenants: int, pool: int) -> dict:
    sites = []
    for t in range(tenants):
        sites.append({"cloud_id": f"7a1c0000-0000-4000-8000-{t:012d}", "name": f"Tenant {t + 1} Agency",
                      "slug": f"tenant-{t + 1}", "url": f"https://tenant-{t + 1}.atlassian.net",
                      "projects": [{"id": "10000", "key": "ACME", "name": "Client websites",
                                    "issue_types": ["Bug", "Task", "Story", "Subtask"]}]})
    return {"sites": sites, "rate_limits": {"global_points_per_hour": pool, "site_points_per_hour": None}}


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used (Linux /proc), to tell CPU starvation from waiting."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat), to tell a saturated machine from waiting."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def admin_db(pg: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(pg.rstrip("/") + "/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=6)
    parser.add_argument("--violations", type=int, default=20, help="per tenant and round (default 20)")
    parser.add_argument("--interval-ms", type=int, default=150)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/", help="PostgreSQL server URL")
    parser.add_argument("--timeout", type=float, default=300, help="per round (default 300 s)")
    parser.add_argument("--consumers", default="1,2",
                        help="rounds: consumer processes, optionally × thread workers each, e.g. 1x1,1x8,2x8,4x8 "
                             "(default 1,2, with --threads each)")
    parser.add_argument("--threads", type=int, default=1,
                        help="Huey thread workers per consumer where a round does not say (default 1)")
    parser.add_argument("--redis", default="", help="an empty Redis database: the Redis gate, budget and queue")
    parser.add_argument("--pool", type=int, default=65000,
                        help="the app's points pool an hour, in the sandbox and JIRA_POINTS_PER_HOUR (default 65000)")
    args = parser.parse_args()
    args.rounds = [tuple(int(n) for n in (r if "x" in r else f"{r}x{args.threads}").split("x"))
                   for r in args.consumers.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-consumers-"))
    dbname = f"bench_consumers_{os.getpid()}"
    db_url = f"{args.pg.rstrip('/')}/{dbname}"
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    (workdir / "world.json").write_text(json.dumps(sandbox_world(args.tenants, args.pool)))
    (workdir / "data").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ALLYPROOF_TEST_DATABASE_URL")}
    if args.redis:
        import redis

        if redis.Redis.from_url(args.redis).dbsize():
            raise SystemExit(f"{args.redis} has keys: give the bench an empty Redis database")
        env["REDIS_URL"] = args.redis
    env.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(workdir / "data"), DJANGO_SETTINGS_MODULE="allyproof.settings",
               DATABASE_URL=db_url, ATLASSIAN_AUTH_URL=sandbox_url, ATLASSIAN_API_URL=sandbox_url,
               ATLASSIAN_CLIENT_ID="allyproof-sandbox", ATLASSIAN_CLIENT_SECRET="sandbox-client-secret",
               JIRA_PUSH_INTERVAL_MS=str(args.interval_ms), JIRA_POINTS_PER_HOUR=str(args.pool), ALLYPROOF_PUBLIC_URL=f"http://127.0.0.1:{free_port()}",
               PYTHONPATH=str(REPO_ROOT))
    os.environ.clear()
    os.environ.update(env)
    processes: list[subprocess.Popen] = []
    admin_db(args.pg, f'create database "{dbname}"')
    try:
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "jira_sandbox", "serve", "--host", "127.0.0.1", "--port", str(port), "--auto-approve",
             "--index-delay", "0", "--config", str(workdir / "world.json")],
            cwd=REPO_ROOT, stdout=open(workdir / "sandbox.log", "wb"), stderr=subprocess.STDOUT)
        processes.append(sandbox)
        run(args, workdir, env, sandbox_url, processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        admin_db(args.pg, f'drop database if exists "{dbname}"')
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir: Path, env: dict, sandbox_url: str, processes: list) -> None:
    import httpx

    def up() -> bool:
        try:
            return httpx.get(sandbox_url + "/_sandbox/clock", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 30, "the sandbox")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection as db
    from django.test import Client
    from django.urls import reverse

    from allyproof.core import clock
    from allyproof.integrations.jira.connection import client as jira_client
    from allyproof.integrations.jira import tasks
    from allyproof.integrations.jira.outbound import jobs
    from allyproof.integrations.jira.outbound import rules
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.models import JiraConnection, JiraLink, PushJob, PushJobItem
    from allyproof.monitoring.models import Violation
    from tests import factories
    from _axe_generator import load_pool

    call_command("migrate", verbosity=0)
    with db.cursor() as cursor:
        cursor.execute("show server_version")
        pg_version = cursor.fetchone()[0]
    jira_client.use_transport(httpx.HTTPTransport())
    world = json.loads((workdir / "world.json").read_text())
    pool = list(load_pool()["failing"].values())
    now = clock.now()
    tenants = []
    started = time.perf_counter()
    for t, jira_site in enumerate(world["sites"]):
        org = factories.organization(f"Agency {t + 1}")
        admin = factories.member(org, f"admin@agency-{t + 1}.test", "admin")
        web = Client()
        web.force_login(admin)
        authorize = web.post(reverse("jira_connect"))["Location"]
        consent = httpx.get(authorize)
        location = urlsplit(consent.headers["location"])
        assert consent.status_code in (302, 303) and parse_qs(location.query).get("code"), consent.text[:300]
        web.get(f"{location.path}?{location.query}")
        connection = JiraConnection.objects.exclude(status="disconnected").get(organization=org)
        if connection.status == JiraConnection.Status.CHOOSING_SITE:
            web.post(reverse("jira_choose_site"), {"cloud_id": jira_site["cloud_id"]})
            connection.refresh_from_db()
        assert connection.status == JiraConnection.Status.ACTIVE and connection.cloud_id == jira_site["cloud_id"]
        sites = []
        for r in range(len(args.rounds)):
            site = factories.site(org, f"Client {t + 1}-{r + 1}", f"https://client-{t + 1}-{r + 1}.example/")
            Violation.objects.bulk_create([
                Violation(site=site, rule_id=pool[i % len(pool)]["meta"]["id"] + (f"-{i // len(pool)}" if i >= len(pool) else ""),
                          impact=pool[i % len(pool)]["impact"], description=pool[i % len(pool)]["meta"]["description"],
                          help=pool[i % len(pool)]["meta"]["help"], help_url=pool[i % len(pool)]["meta"]["helpUrl"],
                          tags=pool[i % len(pool)]["meta"]["tags"],
                          wcag_tags=[x for x in pool[i % len(pool)]["meta"]["tags"] if x.startswith("wcag")],
                          page_count=20, element_count=45,
                          pages=[f"https://client-{t + 1}-{r + 1}.example/p/{p}/" for p in range(20)],
                          samples=[{"target": n["target"], "html": n["html"], "failure_summary": n["failureSummary"]}
                                   for n in pool[i % len(pool)]["templates"][:3]],
                          first_detected_at=now, last_detected_at=now)
                for i in range(args.violations)])
            sites.append(site)
        result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
            rules.RuleInput(site_id=s.pk, enabled=True, project_key="ACME", severities=frozenset(impacts.VALUES),
                            issue_type="", auto_push=False) for s in sites])
        assert result.ok, result.errors
        tenants.append({"org": org, "connection": connection, "sites": sites})
    print(f"world: {args.tenants} organizations connected to {args.tenants} Jira sites over OAuth, "
          f"{len(args.rounds)} × {args.violations} violations each, sync rules saved ({time.perf_counter() - started:.1f} s)", flush=True)

    def request_count() -> int:
        return len(httpx.get(sandbox_url + "/_sandbox/requests?from=0", timeout=30).json())

    def api_calls(since: int) -> list[dict]:  # every Jira API call the sandbox received from request `since` on
        log = httpx.get(sandbox_url + f"/_sandbox/requests?from={since}", timeout=30).json()
        return [r for r in log if r["path"].startswith("/ex/jira/")]

    results = []
    for round_no, (consumers, threads) in enumerate(args.rounds):
        calls_before = request_count()
        job_ids = [jobs.push_job_create(site=t["sites"][round_no], violations=t["sites"][round_no].violations.order_by("rule_id"),
                                        kind="bulk", project_key="ACME", enqueue=tasks.run_push_job).pk for t in tenants]
        load_before = os.getloadavg()[0]
        from allyproof.integrations.jira.connection import budget as points

        shared = points.default_budget()
        pool_now = shared.store.pools([points.GLOBAL], points.hour_of(time.time()))[points.GLOBAL]
        share = points.decide(now=time.time(), global_pool=pool_now, site_pool=points.Pool(None), active_sites=1,
                              lane_=points.BULK, headroom=shared.headroom)
        budget_now = 1 / share.spacing if share.spacing else float("inf")
        started = time.perf_counter()
        sandbox_cpu0, machine0 = cpu_seconds(processes[0].pid), machine_cpu()  # processes[0]: the sandbox
        workers = []
        for w in range(consumers):
            workers.append(subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "--workers", str(threads), "--worker-type", "thread",
                 "--no-periodic", "--delay", "0.1", "--max-delay", "0.5"], cwd=REPO_ROOT, env=env,
                stdout=open(workdir / f"huey-{round_no}-{w}.log", "wb"), stderr=subprocess.STDOUT))
        processes.extend(workers)
        finished = PushJob.objects.filter(pk__in=job_ids, status__in=["completed", "cancelled", "stopped"])
        wait_for(lambda: finished.count() == len(job_ids), args.timeout, f"round {round_no + 1}'s jobs", interval=0.05)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        cpu = sum(cpu_seconds(w.pid) for w in workers)
        sandbox_cpu = cpu_seconds(processes[0].pid) - sandbox_cpu0
        machine1 = machine_cpu()
        busy = (machine1[0] - machine0[0]) / max(1e-9, machine1[1] - machine0[1])
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        job_rows = list(PushJob.objects.filter(pk__in=job_ids).values("pk", "status", "started_at", "finished_at"))
        span = (max(j["finished_at"] for j in job_rows) - min(j["started_at"] for j in job_rows)).total_seconds()
        items = PushJobItem.objects.filter(job_id__in=job_ids)
        pushed = items.filter(status=PushJobItem.Status.PUSHED).count()
        calls = api_calls(calls_before)
        by_site: dict[str, list[float]] = {}
        for call in calls:
            by_site.setdefault(call["path"].split("/")[3], []).append(call["time"])
        gaps = [b - a for times in by_site.values() for a, b in zip(sorted(times), sorted(times)[1:])]
        # The rate Jira sees: the most calls one site received within any 1 s. Pacing at 150 ms allows 7
        # (sent at 0, 150, …, 900 ms); a single short gap on arrival is the send-to-arrival jitter of two
        # threads woken on a busy machine, which a sliding window absorbs unless the gate itself let calls through early.
        in_a_second = max((sum(1 for t in times[i:] if t - times[i] < 1.0)
                           for times in map(sorted, by_site.values()) for i in range(len(times))), default=0)
        overlaps = 0
        starts = sorted((j["started_at"], j["finished_at"]) for j in job_rows)
        for i, (s_i, f_i) in enumerate(starts):
            overlaps = max(overlaps, sum(1 for s_j, f_j in starts if s_j <= s_i < f_j))
        results.append({
            "consumers": consumers, "wall": wall, "span": span, "pushed": pushed, "items": items.count(),
            "statuses": sorted({j["status"] for j in job_rows}), "calls": len(calls),
            "median_gap_ms": statistics.median(gaps) * 1000 if gaps else float("nan"),
            "p5_gap_ms": statistics.quantiles(gaps, n=20)[0] * 1000 if len(gaps) > 1 else float("nan"),
            "short_gaps": sum(1 for g in gaps if g < args.interval_ms * 0.9 / 1000), "gaps": len(gaps),
            "min_gap_ms": min(gaps) * 1000 if gaps else float("nan"), "concurrent_jobs": overlaps,
            "in_a_second": in_a_second, "sandbox_cpu": sandbox_cpu, "busy": busy,
            "load": (load_before, load_after), "budget_rate": budget_now, "threads": threads, "cpu": cpu,
        })
        print(f"round {round_no + 1}: {consumers} consumer(s) done in {wall:.2f} s", flush=True)

    links = JiraLink.objects.filter(status="linked")
    duplicates = links.count() - links.values("violation_id").distinct().count()
    print(f"\ndatabase PostgreSQL {pg_version} (scratch database, dropped afterwards); sandbox served on 127.0.0.1 "
          f"in its own process; gate, budget and queue: {'Redis' if args.redis else 'the database row, SqliteHuey'}; JIRA_PUSH_INTERVAL_MS={args.interval_ms}; {args.tenants} tenants × {args.violations} "
          f"violations a round, one bulk job each")
    print(f"\n{'consumers':>9} {'thr':>4} {'wall s':>7} {'span s':>7} {'pushed':>7} {'calls':>6} {'pushes/s':>9} "
          f"{'jobs at once':>12} {'gap/site median':>16} {'min':>7} {'load avg':>11}")
    for r in results:
        print(f"{r['consumers']:>9} {r['threads']:>4} {r['wall']:>7.2f} {r['span']:>7.2f} {r['pushed']:>3}/{r['items']:<3} {r['calls']:>6} "
              f"{r['pushed'] / r['wall']:>9.2f} {r['concurrent_jobs']:>12} {r['median_gap_ms']:>13.0f} ms "
              f"{r['min_gap_ms']:>4.0f} ms {r['load'][0]:>5.2f}/{r['load'][1]:<5.2f}")
    from allyproof.integrations.jira.connection import budget

    pacing_rate = args.tenants * 1000 / args.interval_ms
    headroom = 1 - int(env.get("JIRA_BUDGET_HEADROOM_PERCENT", "3")) / 100
    budget_rate = min(r["budget_rate"] for r in results)  # (left − headroom) / seconds to the reset, per round
    floor_rate = min(pacing_rate, budget_rate)
    print("\nwall = from starting the consumers until every job is completed (includes consumer start-up, "
          "~1-2 s); span = first job started → last job finished")
    print(f"Jira's floor: min({args.tenants} sites × {1000 / args.interval_ms:.2f}/s = {pacing_rate:.1f}/s, "
          f"budget rate {budget_rate:.1f}/s) = {floor_rate:.1f} pushes/s (one call per push; the budget's rate is "
          f"(points left − {1 - headroom:.0%} headroom of {args.pool}) / seconds to the reset, read at each round's "
          f"start; {budget.seconds_to_reset(time.time()):.0f} s to the reset now)")
    print(f"job statuses: {[r['statuses'] for r in results]}; linked issues: {links.count()}, duplicates: {duplicates}")
    base = results[0]
    for r in results:
        rate = r["pushed"] / r["span"] if r["span"] else float("nan")
        print(f"{r['consumers']} consumer(s) × {r['threads']} thread(s): {rate:.2f} pushes/s over the span = "
              f"{rate / floor_rate:.2f}× the floor (target ≥ 0.9× for one consumer"
              f"{': PASS' if rate >= 0.9 * floor_rate else ': MISS' if r['consumers'] == 1 else ''}); speed-up over "
              f"{base['consumers']}×{base['threads']}: span {base['span'] / r['span']:.2f}×, wall {base['wall'] / r['wall']:.2f}×; "
              f"min gap per site {r['min_gap_ms']:.0f} ms (pacing {args.interval_ms} ms; p5 {r['p5_gap_ms']:.0f} ms; "
              f"{r['short_gaps']} of {r['gaps']} gaps under 90 % of it), most calls to one site in "
              f"any 1 s {r['in_a_second']}; consumer CPU "
              f"{r['cpu'] * 1000 / max(1, r['pushed']):.1f} ms a push, so one free core would carry "
              f"{r['pushed'] / max(r['cpu'], 1e-9):.0f} pushes/s; sandbox CPU {r['sandbox_cpu'] * 1000 / max(1, r['pushed']):.1f} ms "
              f"a push; the machine's CPUs were {r['busy']:.0%} busy during the round")
    all_pushed = all(r["pushed"] == r["items"] for r in results) and duplicates == 0
    allowed = int(1000 // args.interval_ms) + 1
    paced = all(r["in_a_second"] <= allowed for r in results)
    print(f"every violation pushed once: {'PASS' if all_pushed else 'MISS'}; per-site pacing held (at most {allowed} "
          f"calls to a site within any 1 s, counted on arrival at the sandbox): {'PASS' if paced else 'MISS'}")
    one = next((r for r in results if r["consumers"] == 1), None)
    two = next((r for r in results if r["consumers"] == 2 and one and r["threads"] == one["threads"]), None)
    if one and two:
        speedup = one["span"] / two["span"]
        room = floor_rate / (one["pushed"] / one["span"])  # how much faster the floor would let 2 go
        verdict = "PASS" if speedup >= TARGET_SPEEDUP else "MISS"
        print(f"scale-out, 2 consumers over 1 (× {one['threads']} threads): {speedup:.2f}× (target ≥ {TARGET_SPEEDUP}× "
              f"where the floor allows it; the floor allows {room:.2f}× here): "
              f"{verdict if room >= TARGET_SPEEDUP else 'not judged: the floor allows less than the target'}")
    print(f"load average (1 min) before/after each round shown above, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
