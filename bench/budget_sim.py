"""Benchmarks of the points budget on a simulated clock: fairness across tenants, and a simulated hour.

    .venv/bin/python bench/budget_sim.py fairness                      # 1 tenant × 500 + 9 × 10
    .venv/bin/python bench/budget_sim.py budget --tenants 50 --pool 65000 --backlog 1400
    .venv/bin/python bench/budget_sim.py budget --pool 6500 --backlog 200   # a tenth of the hour's points

What runs: the product's own push jobs (jobs.push_job_run, the exactly-once push, the pacing gate with the
budget, the HTTP client) against the Jira sandbox in-process, on a scratch SQLite database (the embedded
default), with `--workers` threads taking jobs from a queue the way Huey's thread workers do: a job that
parks (its next slot is more than 2 s away) goes back to the queue with its delay. Time is simulated:
one clock drives AllyProof, the gate, the budget and the sandbox; a thread runs only while every other
sleeps, and sleeping moves the clock to the next wake-up. So an hour passes in the CPU time its calls
take, and the figures are the scheduling policy's, not this machine's load (printed anyway).

fairness: phase A runs the nine small tenants alone; phase B the same nine (fresh violations) with the big
tenant's 500 enqueued first. Targets: each small tenant finishes B within 1.5× its A time; Jain's index of
the tenants' push rates while all ten are backlogged ≥ 0.95. Run in two regimes: pacing-bound (a large
pool: each site is held to 150 ms) and budget-bound (the 65,000-point pool spread over the hour, shared).
budget: --tenants tenants each with --backlog violations push from the top of a simulated hour to its end
against a --pool global pool (the sandbox's and JIRA_POINTS_PER_HOUR). Targets: no jira-quota-global-based
429 after the first; points spent within 5 % of the pool; nobody starved (every tenant pushes all through
the hour; Jain's index of pushes per tenant).
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))
# The top of the next hour: after anything the world's set-up stored on the real clock (pacing slots).
HOUR0 = (int(time.time() // 3600) + 1) * 3600.0


class Sim:
    """A clock that moves only when every participating thread sleeps; one thread runs at a time."""

    def __init__(self, start: float):
        self.now = start
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._running: int | None = None

    def time(self) -> float:
        return self.now

    def _switch(self) -> None:
        if self._heap:
            wake, _, token = heapq.heappop(self._heap)
            self.now = max(self.now, wake)
            self._running = token
        else:
            self._running = None
        self._cv.notify_all()

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._cv:
            heapq.heappush(self._heap, (self.now + max(0.0, seconds), next(self._seq), me))
            self._switch()
            self._cv.wait_for(lambda: self._running == me)

    def thread(self, fn) -> threading.Thread:
        def body():
            me = threading.get_ident()
            with self._cv:
                heapq.heappush(self._heap, (self.now, next(self._seq), me))
                if self._running is None:
                    self._switch()
                self._cv.wait_for(lambda: self._running == me)
            try:
                fn()
            finally:
                from django.db import connection

                connection.close()
                with self._cv:
                    self._switch()

        return threading.Thread(target=body, daemon=True)


def setup(workdir: Path, pool: int) -> None:
    os.environ.update(
        ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(workdir / "data"), DJANGO_SETTINGS_MODULE="allyproof.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}", ATLASSIAN_CLIENT_ID="allyproof-sandbox",
        ATLASSIAN_CLIENT_SECRET="sandbox-client-secret", JIRA_POINTS_PER_HOUR=str(pool), JIRA_PUSH_INTERVAL_MS="150")
    for name in ("REDIS_URL", "ALLYPROOF_TEST_DATABASE_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class World:
    """Tenants connected through the real OAuth flow to their own Jira site in one in-process sandbox."""

    def __init__(self, *, tenants: int, pool: int, sim: Sim):
        import httpx

        from allyproof.integrations.jira.connection import client as jira_client
        from jira_sandbox import Sandbox, SandboxConfig
        from jira_sandbox.clock import Clock

        class SimClock(Clock):
            def now(self) -> float:
                return sim.now

            def freeze(self, at=None):
                pass

            def unfreeze(self):
                pass

        sites = [{"cloud_id": f"7a1c0000-0000-4000-8000-{t:012d}", "name": f"Tenant {t + 1}", "slug": f"t{t + 1}",
                  "url": f"https://t{t + 1}.atlassian.net",
                  "projects": [{"id": "10000", "key": "ACME", "name": "Client websites",
                                "issue_types": ["Bug", "Task"]}]} for t in range(tenants)]
        cfg = SandboxConfig.from_dict({"sites": sites, "auto_approve": True, "timing": {"index_delay": 0},
                                       "rate_limits": {"global_points_per_hour": pool, "site_points_per_hour": None}})
        self.sb = Sandbox(cfg, clock=SimClock())
        self.sb.conformance.enabled = False  # the spec is checked by the test suite; here it would dominate
        jira_client.use_transport(httpx.WSGITransport(app=self.sb))
        self.http = httpx.Client(transport=httpx.WSGITransport(app=self.sb), base_url="http://sandbox.test")
        self.tenants = [self._tenant(t, s["cloud_id"]) for t, s in enumerate(sites)]
        from allyproof.integrations.jira.models import PacingGate, PointsPool

        PacingGate.objects.all().delete()  # set-up ran on the real clock: its slots and charges are not the hour's
        PointsPool.objects.all().delete()

    def _tenant(self, t: int, cloud_id: str) -> dict:
        from django.test import Client
        from django.urls import reverse

        from allyproof.core import impact as impacts
        from allyproof.integrations.jira.outbound import rules
        from allyproof.integrations.jira.connection.gateway import client_for
        from allyproof.integrations.jira.models import JiraConnection
        from tests import factories

        org = factories.organization(f"Agency {t + 1}")
        web = Client()
        web.force_login(factories.member(org, f"admin@agency-{t + 1}.test", "admin"))
        consent = self.http.get(web.post(reverse("jira_connect"))["Location"])
        location = urlsplit(consent.headers["location"])
        assert parse_qs(location.query).get("code"), consent.text[:200]
        web.get(f"{location.path}?{location.query}")
        connection = JiraConnection.objects.exclude(status="disconnected").get(organization=org)
        if connection.status == JiraConnection.Status.CHOOSING_SITE:
            web.post(reverse("jira_choose_site"), {"cloud_id": cloud_id})
            connection.refresh_from_db()
        site = factories.site(org, f"Client {t + 1}", f"https://client-{t + 1}.example/")
        result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
            rules.RuleInput(site_id=site.pk, enabled=True, project_key="ACME", severities=frozenset(impacts.VALUES),
                            issue_type="", auto_push=False)])
        assert result.ok, result.errors
        return {"org": org, "site": site, "cloud_id": cloud_id, "connection": connection}

    def backlog(self, tenant: dict, n: int, tag: str):
        from allyproof.core import clock
        from allyproof.monitoring.models import Violation

        now = clock.now()
        Violation.objects.bulk_create([
            Violation(site=tenant["site"], rule_id=f"{tag}-rule-{i:05d}", impact="serious", description="Images need alt",
                      help="Images must have alternate text", help_url="https://dequeuniversity.com/rules/axe/4.10/image-alt",
                      tags=["wcag2a", "wcag111"], wcag_tags=["wcag111"], page_count=3, element_count=5,
                      pages=[f"{tenant['site'].base_url}p/{p}/" for p in range(3)],
                      samples=[{"target": ["img"], "html": "<img src=a.png>", "failure_summary": "Fix: add alt"}],
                      first_detected_at=now, last_detected_at=now)
            for i in range(n)])
        return list(Violation.objects.filter(site=tenant["site"], rule_id__startswith=f"{tag}-").order_by("rule_id"))

    def creates(self) -> list[tuple[float, str, int]]:
        """(time, cloud id, status) of every create the sandbox saw."""
        return [(r.time, r.path.split("/")[3], r.status) for r in self.sb.requests
                if r.method == "POST" and r.path.endswith("/rest/api/3/issue")]


class Workers:
    """Huey's thread workers, on the simulated clock: a FIFO of due jobs; a parked job returns with its delay."""

    def __init__(self, sim: Sim, gate, *, threads: int, until: float | None = None, watch: set[int] | None = None):
        """Runs until every job (or every job of `watch`) is done, or the clock reaches `until`."""
        self.sim, self.gate, self.threads, self.until, self.watch = sim, gate, threads, until, watch
        self.queue: list[tuple[float, int, int]] = []
        self.seq = itertools.count()
        self.open: set[int] = set()
        self.finished: dict[int, float] = {}

    def _stop(self) -> bool:
        if self.until is not None and self.sim.now >= self.until:
            return True
        return not (self.open if self.watch is None else self.watch - set(self.finished))

    def enqueue(self, job_id: int, at: float | None = None) -> None:
        heapq.heappush(self.queue, (self.sim.now if at is None else at, next(self.seq), job_id))
        self.open.add(job_id)

    def _work(self) -> None:
        from allyproof.integrations.jira.outbound import jobs
        from allyproof.integrations.jira.outbound import push
        from allyproof.integrations.jira.connection.gateway import client_for
        from allyproof.integrations.jira.models import PushJob

        while not self._stop():
            if not self.queue or self.queue[0][0] > self.sim.now:
                # Huey's scheduler looks at parked tasks about once a second; so do these workers.
                self.sim.sleep(1.0 if not self.queue else min(1.0, self.queue[0][0] - self.sim.now))
                continue
            _, _, job_id = heapq.heappop(self.queue)
            job = jobs.push_job_run(job_id=job_id, client_for=lambda c: client_for(c, gate=self.gate),
                                    violation_url=push.absolute_violation_url, gate=self.gate, sleep=self.sim.sleep,
                                    rand=random.random, park=lambda j, s: self.enqueue(j, self.sim.now + s))
            if job is not None and job.status in (PushJob.Status.COMPLETED, PushJob.Status.CANCELLED):
                self.open.discard(job_id)
                self.finished[job_id] = self.sim.now

    def run(self) -> None:
        threads = [self.sim.thread(self._work) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def make_gate(sim: Sim, pool: int, headroom: float):
    from allyproof.integrations.jira.connection import budget
    from allyproof.integrations.jira.connection import pacing

    shared = budget.Budget(store=budget.DatabaseStore(default_quota=pool), headroom=headroom, clock=sim.time,
                           refresh=0.5)
    return pacing.DatabaseGate(interval=0.15, clock=sim.time, sleep=sim.sleep, budget=shared)


def jain(values: list[float]) -> float:
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values)) if any(values) else float("nan")


def job_for(tenant: dict, violations) -> int:
    from allyproof.integrations.jira.outbound import jobs

    return jobs.push_job_create(site=tenant["site"], violations=violations, kind="bulk", project_key="ACME",
                                enqueue=None).pk


def fairness(args) -> None:
    from allyproof.core import clock
    from allyproof.integrations.jira.models import PointsPool, PushJob

    sim = Sim(HOUR0 + 60)
    with clock.follow(lambda: dt.datetime.fromtimestamp(sim.now, dt.UTC)):
        world = World(tenants=10, pool=args.pool, sim=sim)
        big, small = world.tenants[0], world.tenants[1:]
        for regime, pool in (("pacing-bound", 50_000_000), ("budget-bound", args.pool)):
            world.sb.rate_limiter.cfg.global_points_per_hour = pool
            PointsPool.objects.all().delete()
            times, started = {}, time.perf_counter()
            for phase in ("A", "B"):
                gate = make_gate(sim, pool, args.headroom)
                start = sim.now
                jobs_big = [job_for(big, world.backlog(big, args.big, f"{regime}-B"))] if phase == "B" else []
                ids = {job_for(t, world.backlog(t, args.small, f"{regime}-{phase}")): t for t in small}
                workers = Workers(sim, gate, threads=args.workers, watch=set(ids))
                for job_id in [*jobs_big, *ids]:  # the big backlog first: the worst case for the nine
                    workers.enqueue(job_id)
                workers.run()
                times[phase] = {ids[j]["cloud_id"]: workers.finished[j] - start for j in ids}
                if phase == "B":
                    window_end = start + min(times["B"].values())
                    creates = [c for c in world.creates() if start <= c[0] <= window_end and c[2] == 201]
                    rates = [sum(1 for _, cid, _ in creates if cid == t["cloud_id"]) for t in [big, *small]]
                    refused = sum(1 for c in world.creates() if c[2] == 429)
                    PushJob.objects.filter(pk__in=jobs_big).update(status=PushJob.Status.CANCELLED)  # done with it
                sim.now += 5  # a pause between phases: nothing of A is pending in B
            ratios = [times["B"][c] / times["A"][c] for c in times["A"]]
            group = max(times["B"].values()) / max(times["A"].values())
            print(f"\n{regime}: pool {pool} points/h, headroom {args.headroom:.0%}, {args.workers} worker threads, "
                  f"big tenant {args.big} (enqueued first) + 9 × {args.small}; {time.perf_counter() - started:.0f} s "
                  f"real, load {os.getloadavg()[0]:.2f}")
            print(f"  nine alone (A): finish {min(times['A'].values()):.2f}–{max(times['A'].values()):.2f} s; "
                  f"beside the big one (B): {min(times['B'].values()):.2f}–{max(times['B'].values()):.2f} s")
            print(f"  the nine's finish, B/A: {group:.2f}× (target ≤ 1.5×): {'PASS' if group <= 1.5 else 'MISS'}; "
                  f"per small tenant: worst {max(ratios):.2f}×, mean {sum(ratios) / len(ratios):.2f}×")
            print(f"  pushes while all ten were backlogged (first {window_end - start:.2f} s of B): big {rates[0]}, "
                  f"small {min(rates[1:])}–{max(rates[1:])}; Jain's index {jain(rates):.3f} (target ≥ 0.95): "
                  f"{'PASS' if jain(rates) >= 0.95 else 'MISS'}; 429s so far: {refused}", flush=True)


def budget_hour(args) -> None:
    from allyproof.core import clock

    sim = Sim(HOUR0)
    with clock.follow(lambda: dt.datetime.fromtimestamp(sim.now, dt.UTC)):
        built = time.perf_counter()
        world = World(tenants=args.tenants, pool=args.pool, sim=sim)
        sim.now = HOUR0  # building the world (OAuth, createmeta) took no simulated time to speak of
        gate = make_gate(sim, args.pool, args.headroom)
        workers = Workers(sim, gate, threads=args.workers, until=HOUR0 + 3600)
        for tenant in world.tenants:
            workers.enqueue(job_for(tenant, world.backlog(tenant, args.backlog, "H")))
        print(f"world: {args.tenants} tenants × {args.backlog} violations, connected over OAuth "
              f"({time.perf_counter() - built:.1f} s real)", flush=True)
        started = time.perf_counter()
        workers.run()
        real = time.perf_counter() - started
    sb = world.sb
    calls = [r for r in sb.requests if r.path.startswith("/ex/jira/") and HOUR0 <= r.time < HOUR0 + 3600]
    global_429 = [r for r in calls if r.status == 429 and "quota-global" in json.dumps(r.headers or {})]
    spent = sb.rate_limiter.pools.get(f"global:{sb.cfg.client_id}")
    used = spent.used if spent and spent.hour == int(HOUR0 // 3600) else 0
    created = [(r.time, r.path.split("/")[3]) for r in calls if r.method == "POST" and r.path.endswith("/issue")
               and r.status == 201]
    per_tenant = [sum(1 for _, c in created if c == t["cloud_id"]) for t in world.tenants]
    quarters = [[sum(1 for tm, c in created if c == t["cloud_id"] and HOUR0 + q * 900 <= tm < HOUR0 + (q + 1) * 900)
                 for t in world.tenants] for q in range(4)]
    starved = sum(1 for t in range(len(world.tenants)) if min(q[t] for q in quarters) == 0)
    print(f"\nsimulated hour: {args.tenants} tenants, global pool {args.pool} points (sandbox and ours), headroom "
          f"{args.headroom:.0%}, {args.workers} worker threads; {real:.0f} s real, load {os.getloadavg()[0]:.2f}")
    print(f"  calls {len(calls)}, creates {len(created)}; 429s: {sum(1 for r in calls if r.status == 429)} "
          f"(global quota: {len(global_429)})")
    print(f"  global-quota 429s after the first: {max(0, len(global_429) - 1)} (target 0): "
          f"{'PASS' if len(global_429) <= 1 else 'MISS'}")
    print(f"  points spent in the hour (the sandbox's count): {used} of {args.pool} = {used / args.pool:.1%} "
          f"(target within 5 %: ≥ 95 %): {'PASS' if abs(used - args.pool) <= 0.05 * args.pool else 'MISS'}")
    print(f"  pushes per tenant: {min(per_tenant)}–{max(per_tenant)}, Jain's index {jain(per_tenant):.3f}; "
          f"tenants with a quarter-hour without a push: {starved} (target 0): {'PASS' if not starved else 'MISS'}")
    print(f"  per quarter hour, all tenants: {[sum(q) for q in quarters]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["fairness", "budget"])
    parser.add_argument("--pool", type=int, default=65000)
    parser.add_argument("--headroom", type=float, default=0.03)
    parser.add_argument("--workers", type=int, default=4, help="worker threads (default 4)")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=1400, help="budget: violations per tenant")
    parser.add_argument("--big", type=int, default=500)
    parser.add_argument("--small", type=int, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-budget-"))
    (workdir / "data").mkdir()
    try:
        setup(workdir, args.pool)
        print(f"{args.what}: load average {os.getloadavg()} on {os.cpu_count()} CPUs; "
              f"SQLite scratch database, sandbox in-process, simulated clock", flush=True)
        fairness(args) if args.what == "fairness" else budget_hour(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
