"""Benchmark: how evenly two Huey consumers pushing to ONE Jira site are spaced, as the sandbox sees it.

    .venv/bin/python bench/pacing.py                                   # database gate (the embedded default)
    .venv/bin/python bench/pacing.py --redis redis://127.0.0.1:6379/2  # and the Redis gate, side by side
    .venv/bin/python bench/pacing.py --rounds 3 --pg postgres://postgres@127.0.0.1:5432/

What runs, all on this machine: a scratch PostgreSQL database (created, dropped at the end); the Jira
sandbox in its own process (`python -m jira_sandbox serve --auto-approve --index-delay 0`, real HTTP);
this process connects one organization to the sandbox's Demo Agency site through the real OAuth flow,
routes two client sites (the real 22-violation ACME Dental scan each) to the ACME and WEB projects of
that one Jira site, and queues one bulk push job per client site; then two
`manage.py run_huey --workers 1 --no-periodic` consumers push both jobs at once, every call through the
shared pacing gate (database row, or Redis with --redis).

Reported per gate: Jira API calls, the gaps between consecutive calls as the sandbox received them
(median, 5th percentile, minimum), the shortest span of ten consecutive calls against nine intervals,
and duplicates. The test suite asserts the gate's decisions in its own clock (tests/jira/test_pacing*.py);
what a loaded machine's scheduling does to the gaps on the wire is measured here, never asserted.
Reference (what the suite used to assert): median ≥ 148 ms, ten-call span ≥ 9 × 150 − 60 ms, no gap < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from consumers import admin_db, free_port, wait_for  # noqa: E402

from allyproof.core import impact as impacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval-ms", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=1, help="rounds per gate (fresh violations each)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/", help="PostgreSQL server URL")
    parser.add_argument("--redis", help="also measure the Redis gate (a Redis URL; its db is not flushed)")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-pacing-"))
    dbname = f"bench_pacing_{os.getpid()}"
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    (workdir / "data").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ALLYPROOF_TEST_DATABASE_URL")}
    env.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(workdir / "data"), DJANGO_SETTINGS_MODULE="allyproof.settings",
               DATABASE_URL=f"{args.pg.rstrip('/')}/{dbname}", ATLASSIAN_AUTH_URL=sandbox_url,
               ATLASSIAN_API_URL=sandbox_url, ATLASSIAN_CLIENT_ID="allyproof-sandbox",
               ATLASSIAN_CLIENT_SECRET="sandbox-client-secret", JIRA_PUSH_INTERVAL_MS=str(args.interval_ms),
               ALLYPROOF_PUBLIC_URL=f"http://127.0.0.1:{free_port()}", PYTHONPATH=str(REPO_ROOT))
    os.environ.clear()
    os.environ.update(env)
    processes: list[subprocess.Popen] = []
    admin_db(args.pg, f'create database "{dbname}"')
    try:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "jira_sandbox", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--auto-approve", "--index-delay", "0"],
            cwd=REPO_ROOT, stdout=open(workdir / "sandbox.log", "wb"), stderr=subprocess.STDOUT))
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


def connect_world(sandbox_url: str):
    """One organization on the sandbox's Demo Agency; two client sites routed to ACME and WEB."""
    import httpx
    from django.test import Client
    from django.urls import reverse

    from allyproof.integrations.jira.outbound import rules
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.models import JiraConnection
    from jira_sandbox import DEMO_AGENCY_ID
    from tests import factories

    org = factories.organization("Bench Agency")
    admin = factories.member(org, "admin@bench-agency.test", "admin")
    web = Client()
    web.force_login(admin)
    consent = httpx.get(web.post(reverse("jira_connect"))["Location"])
    location = urlsplit(consent.headers["location"])
    assert consent.status_code in (302, 303) and parse_qs(location.query).get("code"), consent.text[:300]
    web.get(f"{location.path}?{location.query}")
    connection = JiraConnection.objects.exclude(status="disconnected").get(organization=org)
    if connection.status == JiraConnection.Status.CHOOSING_SITE:
        web.post(reverse("jira_choose_site"), {"cloud_id": DEMO_AGENCY_ID})
        connection.refresh_from_db()
    assert connection.status == JiraConnection.Status.ACTIVE
    return org, connection, rules, client_for, factories


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

    from allyproof.integrations.jira.connection import client as jira_client
    from allyproof.integrations.jira.outbound import jobs
    from allyproof.integrations.jira import tasks
    from allyproof.integrations.jira.models import JiraLink, PushJob

    call_command("migrate", verbosity=0)
    jira_client.use_transport(httpx.HTTPTransport())
    org, connection, rules, client_for, factories = connect_world(sandbox_url)
    gates = [("database", None)] + ([("redis", args.redis)] if args.redis else [])
    scan = factories.axe_fixture("multi_page__site.json")
    results = []
    for gate_name, redis in gates:
        for round_no in range(args.rounds):
            sites = []
            for key in ("ACME", "WEB"):
                host = f"{gate_name}-{round_no}-{key.lower()}.example"
                site = factories.site(org, f"{gate_name} {round_no} {key}", f"https://{host}/")
                factories.ingest(site, scan.replace(b"www.acme-dental.example", host.encode()))
                saved = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
                    rules.RuleInput(site_id=site.pk, enabled=True, project_key=key,
                                    severities=frozenset(impacts.VALUES), issue_type="", auto_push=False)])
                assert saved.ok, saved.errors
                sites.append(site)
            calls_before = len(api_calls(sandbox_url))
            job_ids = [jobs.push_job_create(site=s, violations=s.violations.order_by("rule_id"), kind="bulk",
                                            project_key=s.jira_rule.project_key,
                                            enqueue=tasks.run_push_job if redis is None else None).pk
                       for s in sites]
            worker_env = {**env, **({"REDIS_URL": redis} if redis else {})}
            workers = [subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "--workers", "1", "--no-periodic", "--delay", "0.1",
                 "--max-delay", "0.5"], cwd=REPO_ROOT, env=worker_env,
                stdout=open(workdir / f"huey-{gate_name}-{round_no}-{w}.log", "wb"), stderr=subprocess.STDOUT)
                for w in range(2)]
            processes.extend(workers)
            if redis:
                enqueue_on_redis(redis, job_ids, env)
            done = PushJob.objects.filter(pk__in=job_ids, status="completed")
            wait_for(lambda: done.count() == len(job_ids), args.timeout, "both jobs", interval=0.05)
            for worker in workers:
                worker.send_signal(signal.SIGINT)
            for worker in workers:
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            calls = api_calls(sandbox_url)[calls_before:]
            results.append(figures(gate_name, round_no, calls, args.interval_ms / 1000))
    links = JiraLink.objects.filter(status="linked")
    duplicates = links.count() - links.values("violation_id").distinct().count()
    report(results, args, duplicates)


def enqueue_on_redis(url: str, job_ids: list[int], env: dict) -> None:
    """This process runs on the SQLite queue; the Redis round's workers read Redis: queue the jobs there."""
    script = ("import django, os; django.setup(); from allyproof.integrations.jira.tasks import run_push_job; "
              f"[run_push_job(i) for i in {job_ids!r}]")
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env={**env, "REDIS_URL": url}, check=True)


def api_calls(sandbox_url: str) -> list[dict]:
    import httpx

    log = httpx.get(sandbox_url + "/_sandbox/requests", timeout=30).json()
    return [r for r in log if r["path"].startswith("/ex/jira/")]


def figures(gate: str, round_no: int, calls: list[dict], interval: float) -> dict:
    times = sorted(c["time"] for c in calls)
    gaps = [b - a for a, b in zip(times, times[1:])]
    spans = [times[i + 9] - times[i] for i in range(len(times) - 9)]
    return {"gate": gate, "round": round_no + 1, "calls": len(calls),
            "median": statistics.median(gaps), "p5": sorted(gaps)[len(gaps) // 20], "min": min(gaps),
            "span10": min(spans), "floor10": 9 * interval}


def report(results: list[dict], args, duplicates: int) -> None:
    print(f"\nJIRA_PUSH_INTERVAL_MS={args.interval_ms}; two consumers, two bulk jobs (22 violations each) on one "
          f"Jira site; gaps as the sandbox (own process, real HTTP) received the calls; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"\n{'gate':>9} {'round':>5} {'calls':>5} {'median gap':>11} {'p5 gap':>8} {'min gap':>8} "
          f"{'10-call span':>13} {'9 × interval':>13} {'span/floor':>10}")
    for r in results:
        print(f"{r['gate']:>9} {r['round']:>5} {r['calls']:>5} {r['median'] * 1000:>8.1f} ms {r['p5'] * 1000:>5.1f} ms "
              f"{r['min'] * 1000:>5.1f} ms {r['span10'] * 1000:>10.0f} ms {r['floor10'] * 1000:>10.0f} ms "
              f"{r['span10'] / r['floor10']:>10.3f}")
    print(f"\nduplicates: {duplicates}")


if __name__ == "__main__":
    main()
