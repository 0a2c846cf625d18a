"""Benchmark: where a push job item's CPU goes in the consumer (issue 11, one consumer against Jira's floor).

    .venv/bin/python bench/job_profile.py --items 300                 # CPU and SQL per item
    .venv/bin/python bench/job_profile.py --items 300 --profile 25    # and cProfile's top 25 (by own time)

The job runner `outbound/jobs.push_job_run` as the Huey task calls it (`gateway.client_for` without a gate,
so the default database pacing gate and points budget, as the consumers in bench/consumers.py run without
Redis), on PostgreSQL (a scratch database created on --pg and dropped at the end), against the Jira sandbox
mounted in-process (httpx.WSGITransport). Pacing is set to 0 ms and the points pool to --pool so that
nothing sleeps: what is left is CPU. The sandbox runs in this process, so its own CPU is measured apart
(the time spent inside its WSGI call) and taken off: "ours" is what a consumer would spend.

Reported per item: SQL queries (django's CaptureQueriesContext) by kind, process CPU (time.process_time),
the sandbox's share, ours, and the CPU of the PostgreSQL server process serving our connection (/proc; the
server runs on this machine and its CPU is what the consumer's queries cost beside the consumer's own). The test suite asserts behaviour; this prints figures (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--items", type=int, default=300)
parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/", help="PostgreSQL server URL")
parser.add_argument("--pool", type=int, default=1_000_000, help="points an hour, the sandbox's and ours")
parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N functions (0: none)")
parser.add_argument("--sql", type=int, default=0, help="print the N most frequent SQL statement shapes")
parser.add_argument("--dump", default="", help="write the cProfile stats to this file (with --profile)")
ARGS = parser.parse_args()
DBNAME = f"bench_job_profile_{os.getpid()}"

os.environ.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=tempfile.mkdtemp(prefix="allyproof-bench-"),
                  DJANGO_SETTINGS_MODULE="allyproof.settings", ALLYPROOF_PUBLIC_URL="http://testserver",
                  ATLASSIAN_CLIENT_ID="allyproof-sandbox", ATLASSIAN_CLIENT_SECRET="sandbox-client-secret",
                  ATLASSIAN_AUTH_URL="http://sandbox.test", ATLASSIAN_API_URL="http://sandbox.test",
                  DATABASE_URL=f"{ARGS.pg.rstrip('/')}/{DBNAME}", JIRA_PUSH_INTERVAL_MS="0",
                  JIRA_POINTS_PER_HOUR=str(ARGS.pool))
os.environ.pop("REDIS_URL", None)


def admin_db(sql: str) -> None:
    import psycopg

    with psycopg.connect(ARGS.pg.rstrip("/") + "/postgres", autocommit=True) as conn:
        conn.execute(sql)


admin_db(f'CREATE DATABASE "{DBNAME}"')

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.db import connection as db  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from allyproof.integrations.jira.connection import client as jira_client  # noqa: E402
from allyproof.integrations.jira.connection.gateway import client_for  # noqa: E402
from allyproof.integrations.jira.models import PushJobItem  # noqa: E402
from allyproof.integrations.jira.outbound import jobs, push  # noqa: E402
from jira_sandbox import Sandbox, SandboxConfig  # noqa: E402
from bench.push_world import push_world  # noqa: E402


class GcClock:
    """CPU spent in the garbage collector (it runs wherever an allocation crosses its threshold, inside the
    sandbox's call or ours, and its cost grows with everything alive, the sandbox's issues included)."""

    def __init__(self):
        self.cpu, self._started = 0.0, 0.0
        gc.callbacks.append(self)

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.process_time()
        else:
            self.cpu += time.process_time() - self._started


class TimedSandbox:
    """The sandbox's WSGI app, with the process CPU spent inside it added up (it is Jira's, not ours)."""

    def __init__(self, app):
        self.app, self.cpu = app, 0.0

    def __call__(self, environ, start_response):
        started = time.process_time()
        try:
            return list(self.app(environ, start_response))
        finally:
            self.cpu += time.process_time() - started


def shape(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper()
    table = next((w.strip('"') for i, w in enumerate(words) if words[i - 1].upper() in ("FROM", "INTO", "UPDATE")
                  and i > 0), "?")
    return f"{verb} {table}"


def backend_cpu() -> float:
    """CPU seconds the PostgreSQL server process serving this connection has used (it runs on this machine)."""
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_job(site, violations, profiler=None):
    job = jobs.push_job_create(site=site, violations=violations, kind="bulk", project_key="ACME", enqueue=None)
    calls, sandbox_before, pg_before, gc_before = len(SANDBOX.requests), TIMED.cpu, backend_cpu(), GC.cpu
    db.queries_log = collections.deque(maxlen=1_000_000)  # Django keeps 9,000 by default: count them all
    with CaptureQueriesContext(db) as queries:
        started = time.process_time()
        if profiler:
            profiler.enable()
        jobs.push_job_run(job_id=job.pk, client_for=client_for, violation_url=push.absolute_violation_url)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - started
    pg = backend_cpu() - pg_before
    print(f"garbage collector: {(GC.cpu - gc_before) / len(violations) * 1000:.2f} ms an item (in both shares)")
    pushed = PushJobItem.objects.filter(job=job, status=PushJobItem.Status.PUSHED).count()
    return cpu, TIMED.cpu - sandbox_before, list(queries.captured_queries), pushed, len(SANDBOX.requests) - calls, pg


def main() -> None:
    site, _ = push_world(ARGS.items + 20, SANDBOX)
    violations = list(site.violations.order_by("pk"))
    run_job(site, violations[:20])  # warm-up: imports, first connections, the pacing and pool rows
    profiler = cProfile.Profile(time.process_time) if ARGS.profile else None  # CPU, not waits
    cpu, sandbox_cpu, queries, pushed, calls, pg = run_job(site, violations[20:], profiler)
    n = ARGS.items
    print(f"{n} items, {pushed} pushed, {calls} Jira calls; load average {os.getloadavg()[0]:.2f}")
    print(f"SQL queries per item: {len(queries) / n:.1f}")
    for kind, count in collections.Counter(shape(q["sql"]) for q in queries).most_common():
        print(f"   {count / n:5.2f}  {kind}")
    print(f"process CPU per item {cpu / n * 1000:.2f} ms; sandbox (in-process) {sandbox_cpu / n * 1000:.2f} ms; "
          f"ours {(cpu - sandbox_cpu) / n * 1000:.2f} ms; PostgreSQL's backend {pg / n * 1000:.2f} ms; "
          f"ours + PostgreSQL {(cpu - sandbox_cpu + pg) / n * 1000:.2f} ms")
    if ARGS.sql:
        for sql, count in collections.Counter(q["sql"][:200] for q in queries).most_common(ARGS.sql):
            print(f"{count / n:5.2f}  {sql}")
    if profiler:
        stats = pstats.Stats(profiler)
        if ARGS.dump:
            stats.dump_stats(ARGS.dump)
        stats.sort_stats("tottime").print_stats(ARGS.profile)
        stats.sort_stats("cumulative").print_stats(ARGS.profile * 2)


_config = SandboxConfig.default()
_config.rate_limits.burst = {method: 10_000 for method in _config.rate_limits.burst}  # nothing sleeps
_config.rate_limits.global_points_per_hour = ARGS.pool
_config.rate_limits.site_points_per_hour = None
SANDBOX = Sandbox(_config)
SANDBOX.auto_approve = True
TIMED = TimedSandbox(SANDBOX)
GC = GcClock()
jira_client.use_transport(httpx.WSGITransport(app=TIMED))

if __name__ == "__main__":
    try:
        main()
    finally:
        db.close()
        admin_db(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
