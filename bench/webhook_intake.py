"""Benchmark: webhook intake on the production profile, 10,000 deliveries of which 20 % are replays.

    .venv/bin/python bench/webhook_intake.py --db postgres://postgres@127.0.0.1:5432/bench_intake \\
        --redis redis://127.0.0.1:6379/9     # the bench drops and creates bench_intake (and bench_intake_world)

What runs (issue 11, Build 2):
  1. a setup child builds bench/webhooks.py's world in the scratch database (32 connections, 5,500
     links, bodies captured from the Jira sandbox), including 200 Demo issues moved Done, back to To Do
     by a person and Done again;
  2. `scripts/serve.py` (what `./dev serve` runs) with ALLYPROOF_ENV=production: migrations, gunicorn
     (allyproof.core.gunicorn_conf, ALLYPROOF_WEB_WORKERS sync workers), Huey consumers on Redis;
  3. this process sends, from asyncio with raw sockets (one connection per request, as gunicorn's sync
     workers close each), deliveries built, signed and serialised before the clock starts.

The deliveries: 8,000 distinct (200 issues × Done / To Do / Done, each step at least 2,000 positions after
the one before; 800 other linked issues moved Done; 5,000 other updates of linked issues; 1,600 updates
of issues AllyProof did not create), then 2,000 replays of earlier ones mixed in: half with the same
X-Atlassian-Webhook-Identifier (a retry), half under a new one (the same change delivered again).
Expected state changes: 200 × 3 + 800 = 1,400 (resolve, reopen, resolve; resolve). The bench asserts,
once the worker has drained, that exactly 1,400 state changes were applied, 8,000 deliveries
recorded, 2,000 answered as duplicates, and that the 1,000 violations end resolved.

Figures: rate and latency as the sender sees them (connect, request, whole response), CPU per
delivery of gunicorn, the consumers, this database's PostgreSQL backends and the sender, the load
average before and after. Asserts the counts (a wrong count exits 1), never timings.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "bench")]

import webhooks as world  # noqa: E402  (bench/webhooks.py: the world and the signer)

HOST = "allyproof.example.test"
TOTAL, REPLAY_SHARE, SEQUENCES, PLAIN_DONE, FOREIGN = 10_000, 0.20, 200, 800, 1_600
TARGET_RATE, TARGET_P99_MS = 300, 100


def production_env(workdir: Path, db: str, redis: str, web_workers: int, consumers: int,
                   consumer_nice: int = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLYPROOF_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        ALLYPROOF_ENV="production", ALLYPROOF_DATA_DIR=str(workdir / "data"), PYTHONPATH=str(REPO_ROOT),
        ALLYPROOF_SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        ALLYPROOF_BEHIND_PROXY="1", ALLYPROOF_PROXY_SSL_HEADER="X-Forwarded-Proto",
        ALLYPROOF_ENCRYPTION_KEYS="p1:dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYnk=",
        ALLYPROOF_PUBLIC_URL=f"https://{HOST}", ATLASSIAN_CLIENT_ID=world.CLIENT_ID,
        ATLASSIAN_CLIENT_SECRET=world.CLIENT_SECRET, ALLYPROOF_PORT="0", ALLYPROOF_WEB_WORKERS=str(web_workers),
        ALLYPROOF_CONSUMERS=str(consumers), ALLYPROOF_CONSUMER_NICE=str(consumer_nice), DATABASE_URL=db,
        REDIS_URL=redis, DJANGO_SETTINGS_MODULE="allyproof.settings",
        ALLYPROOF_LOG_FORMAT="json")
    return env


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], env=env, cwd=REPO_ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# --- the deliveries ------------------------------------------------------------------------------------

def plan(data: dict[str, Any], seed: int) -> tuple[list[dict[str, Any]], int]:
    """(deliveries in send order, expected state changes). Each: body (dict), identifier, replay flag."""
    rng = random.Random(seed)
    t = data["templates"]
    distinct = TOTAL - int(TOTAL * REPLAY_SHARE)
    slots: list[dict[str, Any] | None] = [None] * distinct
    # Each sequence's three steps at fixed, far-apart positions, so no two are ever in flight together.
    stride = distinct // 3
    for i, seq in enumerate(t["sequences"][:SEQUENCES]):
        for step, body in enumerate(seq):
            slots[(i * 13) % stride + step * stride] = body
    rest = ([*t["done"][:PLAIN_DONE]] + t["foreign"][:FOREIGN])
    rest += [_before_done(b) for b in t["linked"][:distinct - len(rest) - 3 * SEQUENCES]]
    rng.shuffle(rest)
    filler = iter(rest)
    slots = [s if s is not None else next(filler) for s in slots]
    base_ms = int(time.time() * 1000)
    originals = [{"body": {**body, "timestamp": base_ms + n}, "identifier": secrets.token_hex(16), "replay": ""}
                 for n, body in enumerate(slots)]
    sent: list[dict[str, Any]] = []
    replays = TOTAL - distinct
    # A replay goes out after its original (at least 200 deliveries later), as Atlassian's retries do.
    replay_at = sorted(rng.sample(range(200, TOTAL), replays))
    source = iter(originals)
    for position in range(TOTAL):
        if replay_at and replay_at[0] == position:
            replay_at.pop(0)
            original = sent[rng.randrange(0, max(1, len([s for s in sent[:-200] if not s["replay"]])))]
            same_id = rng.random() < 0.5
            sent.append({**original, "identifier": original["identifier"] if same_id else secrets.token_hex(16),
                         "replay": "identifier" if same_id else "content"})
        else:
            sent.append(next(source))
    return sent, 3 * SEQUENCES + PLAIN_DONE


def _before_done(body: dict[str, Any]) -> dict[str, Any]:
    """Worlds built before the sandbox clock was advanced between transitions captured In Progress, the
    edit and Done of one issue within one millisecond; an In Progress arriving after its Done then looks
    like a reopen at the same instant. A person takes seconds: the In Progress and edit bodies of linked
    issues are dated 5 s earlier (captured before their Done, so their order is unchanged; the
    sequences' To Do steps are left as captured, a second after their Done)."""
    from allyproof.integrations.jira.inbound.payload import jira_time

    fields = body["issue"]["fields"]
    if fields["status"]["statusCategory"]["key"] == "done" or not fields.get("statuscategorychangedate"):
        return body
    moved = jira_time(fields["statuscategorychangedate"]) - dt.timedelta(seconds=5)
    stamp = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}+0000"
    return {**body, "issue": {**body["issue"], "fields": {**fields, "statuscategorychangedate": stamp}}}


def prepare(deliveries: list[dict[str, Any]], data: dict[str, Any], port: int) -> list[bytes]:
    """Whole HTTP/1.1 requests, signed (one HS256 JWT per site, as the sandbox signs)."""
    tokens = {cid: _sign(cid) for cid in set(data["cloud_ids"].values())}
    out = []
    for d in deliveries:
        site = d["body"]["issue"]["self"].split("/rest/", 1)[0]
        body = json.dumps(d["body"]).encode()
        head = (f"POST {data['paths'][site]} HTTP/1.1\r\nHost: {HOST}\r\nX-Forwarded-Proto: https\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Authorization: Bearer {tokens[data['cloud_ids'][site]]}\r\n"
                f"X-Atlassian-Webhook-Identifier: {d['identifier']}\r\nX-Atlassian-Webhook-Flow: Primary\r\n"
                "Connection: close\r\n\r\n")
        out.append(head.encode() + body)
    return out


def _sign(cloud_id: str) -> str:
    """As the sandbox signs (HS256, iss/iat/exp/context.cloudId), but valid for an hour instead of three
    minutes: the deliveries are signed before the clock starts, and a run on a loaded machine is long."""
    import warnings

    import jwt

    now = int(time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sandbox's short secret trips PyJWT's key-length warning
        return jwt.encode({"iss": world.CLIENT_ID, "iat": now, "exp": now + 3600, "context": {"cloudId": cloud_id}},
                          world.CLIENT_SECRET, algorithm="HS256")


async def _send_all(requests: list[bytes], port: int, concurrency: int,
                    rate: float | None = None) -> list[tuple[float, int]]:
    """Closed loop (`concurrency` lanes, each sends its next as soon as its last is answered), or with
    `rate` open loop: delivery i is due at i / rate seconds, as Jira would send it whatever our answers
    take, and its latency counts from when it was due (a late start is waiting too)."""
    results: list[tuple[float, int]] = [(0.0, 0)] * len(requests)
    position = iter(range(len(requests)))
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        started = time.perf_counter()
        if rate:
            due = t0 + i / rate
            if due > started:
                await asyncio.sleep(due - started)
            started = due
        status = 0
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(requests[i])
            line = await reader.readline()
            status = int(line.split()[1]) if line.startswith(b"HTTP/") else 0
            await reader.read()  # to the end: gunicorn closes after the response
            writer.close()
        except OSError:
            status = 0
        results[i] = (time.perf_counter() - started, status)

    async def lane() -> None:
        for i in position:
            await one(i)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return results


# --- CPU accounting from /proc ------------------------------------------------------------------------

def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> dict[str, list[int]]:
    """serve's children by role: gunicorn (master and workers) and consumers."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    def below(p):
        kids = [c for c, parent in parents.items() if parent == p]
        return kids + [g for k in kids for g in below(k)]
    found = {"web": [], "consumers": []}
    for child in below(pid):
        found["web" if "gunicorn" in commands[child] else "consumers"].append(child)
    return found


def _pg_backends(db_url: str) -> list[int]:
    name = db_url.rsplit("/", 1)[1]
    out = subprocess.run(["psql", db_url, "-Atc", f"select pid from pg_stat_activity where datname = '{name}'"],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class CpuMeter:
    def __init__(self, serve_pid: int, db_url: str):
        self.serve_pid, self.db_url = serve_pid, db_url
        self.seen: dict[str, dict[int, float]] = {"web": {}, "consumers": {}, "postgres": {}}

    def sample(self) -> dict[str, float]:
        """CPU seconds so far, per role (processes seen earlier keep their last reading)."""
        roles = {**_tree(self.serve_pid), "postgres": _pg_backends(self.db_url)}
        for role, pids in roles.items():
            for pid in pids:
                self.seen[role][pid] = _cpu(pid)
        return {role: sum(v.values()) for role, v in self.seen.items()}


# --- the parent ----------------------------------------------------------------------------------------

def _psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True).stdout


def _world(db_url: str, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The world is built once into `<db>_world` (ten minutes on a loaded machine) with its bodies kept
    beside it; each run starts from a fresh copy (CREATE DATABASE … TEMPLATE)."""
    server, name = db_url.rsplit("/", 1)
    admin = f"{server}/postgres"
    kept = Path(tempfile.gettempdir()) / f"allyproof-bench-intake-{name}_world.json"
    exists = _psql(admin, f"select 1 from pg_database where datname = '{name}_world'").strip() == "1"
    if not (exists and kept.exists()):
        print("building the world (once) …", flush=True)
        _psql(admin, f"drop database if exists {name}_world")
        _psql(admin, f"create database {name}_world")
        env = production_env(workdir, f"{server}/{name}_world", "redis://127.0.0.1:1/0", 1, 1)
        env.pop("REDIS_URL")
        setup = _child(["--child", "setup", "--arg", str(workdir)], env)
        kept.write_text(json.dumps({"setup": setup, "data": json.loads((workdir / "templates.json").read_text())}))
    _psql(admin, f"drop database if exists {name}")
    _psql(admin, f"create database {name} template {name}_world")
    stored = json.loads(kept.read_text())
    return stored["setup"], stored["data"]


def _census(env: dict[str, str]) -> dict[str, Any]:
    return _child(["--child", "census"], env)


def _census_child() -> dict[str, Any]:
    import django

    django.setup()
    from django.db.models import Count

    from allyproof.integrations.jira.models import InboundEvent, JiraSyncLog
    from allyproof.monitoring.models import Violation

    lines = JiraSyncLog.objects.filter(direction="inbound")
    return {
        "events": InboundEvent.objects.count(),
        "received": InboundEvent.objects.filter(outcome="received").count(),
        "outcomes": dict(InboundEvent.objects.values_list("outcome").annotate(n=Count("pk"))),
        "changes": lines.filter(code__in=("entered_done", "left_done")).count(),
        "codes": dict(lines.values_list("code").annotate(n=Count("pk"))),
        "resolved": Violation.objects.filter(status="resolved", resolved_source__startswith="jira:").count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=False, help="postgres://… URL of an empty scratch database")
    parser.add_argument("--redis", help="redis://… URL of a scratch Redis database")
    parser.add_argument("--concurrency", type=int, default=16, help="deliveries in flight (default 16)")
    parser.add_argument("--rate", type=float, help="send open loop at this many deliveries a second (with "
                        "--concurrency high enough, e.g. 64), instead of as fast as answers come")
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="ALLYPROOF_WEB_WORKERS (default serve's, 2 × CPUs + 1)")
    parser.add_argument("--consumers", type=int, default=2, help="ALLYPROOF_CONSUMERS (default 2, serve's)")
    parser.add_argument("--consumer-nice", type=int, default=0, help="ALLYPROOF_CONSUMER_NICE (default 0, serve's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=["setup", "census"], help=argparse.SUPPRESS)
    parser.add_argument("--arg", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "setup":
        print(json.dumps(world._setup(Path(args.arg[0]))))
        return 0
    if args.child == "census":
        print(json.dumps(_census_child()))
        return 0
    if not (args.db and args.redis):
        parser.error("--db and --redis are required (scratch databases: the bench fills them)")

    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-intake-"))
    (workdir / "data").mkdir()
    env = production_env(workdir, args.db, args.redis, args.web_workers, args.consumers, args.consumer_nice)
    subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)
    setup, data = _world(args.db, workdir)
    deliveries, expected_changes = plan(data, args.seed)
    distinct = sum(1 for d in deliveries if not d["replay"])
    serve = subprocess.Popen([sys.executable, "scripts/serve.py"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    port_box: list[int] = []

    def read_output() -> None:
        with open(workdir / "serve.log", "w") as log:
            for line in serve.stdout:
                log.write(line)
                if '"serve.listening"' in line and not port_box:
                    port_box.append(json.loads(line[line.index("{"):])["port"])

    threading.Thread(target=read_output, daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not port_box:
            if serve.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start; see {workdir / 'serve.log'}")
            time.sleep(0.2)
        port = port_box[0]
        requests = prepare(deliveries, data, port)
        time.sleep(3)  # gunicorn's workers and the consumers import Django
        meter = CpuMeter(serve.pid, args.db)
        cpu0, load0, sender0 = meter.sample(), os.getloadavg(), time.process_time()
        started = time.perf_counter()
        results = asyncio.run(_send_all(requests, port, args.concurrency, args.rate))
        wall = time.perf_counter() - started
        sender_cpu = time.process_time() - sender0
        cpu1, load1 = meter.sample(), os.getloadavg()
        drain_started = time.perf_counter()
        while True:
            census = _census(env)
            if census["received"] == 0 or time.perf_counter() - drain_started > 300:
                break
            time.sleep(0.5)
        drained = time.perf_counter() - drain_started
        cpu2 = meter.sample()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
    times = sorted(t for t, _ in results)
    statuses: dict[int, int] = {}
    for _, status in results:
        statuses[status] = statuses.get(status, 0) + 1

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(p / 100 * len(times)))] * 1000

    n = len(results)
    rate = n / wall
    per = {role: (cpu1[role] - cpu0[role]) / n * 1000 for role in cpu1}
    after = {role: (cpu2[role] - cpu1[role]) / n * 1000 for role in cpu2}
    total_ms = sum(per.values()) + sender_cpu / n * 1000
    print(f"\nworld {setup['connections']} connections, {setup['links']} links; serve: gunicorn "
          f"{args.web_workers} sync workers, {args.consumers} consumers on Redis (nice {args.consumer_nice}), "
          f"PostgreSQL; sender: asyncio raw "
          f"sockets, {args.concurrency} in flight{f', open loop at {args.rate:g}/s' if args.rate else ''}; {os.cpu_count()} CPUs")
    print(f"sent {n} ({distinct} distinct, {n - distinct} replays) in {wall:.2f} s: {rate:.1f}/s; latency p50 "
          f"{pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, max {times[-1] * 1000:.1f} ms; "
          f"statuses {dict(sorted(statuses.items()))}")
    print(f"load average before {load0[0]:.2f}/{load0[1]:.2f}, after {load1[0]:.2f}/{load1[1]:.2f} (1/5 min)")
    print("CPU per delivery while sending: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per.items())
          + f", sender {sender_cpu / n * 1000:.2f} ms; total {total_ms:.2f} ms "
          f"(sender {sender_cpu / n * 1000 / total_ms:.0%} of it); wall × 2 CPUs = {2 * wall / n * 1000:.2f} ms")
    print(f"worker drained the rest in {drained:.1f} s after the last answer; CPU per delivery after sending: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in after.items()))
    print(f"census {census}")
    failures = []
    if census["received"]:
        failures.append(f"{census['received']} deliveries still waiting for the worker")
    if census["changes"] != expected_changes:
        failures.append(f"{census['changes']} state changes applied, {expected_changes} distinct changes sent")
    if census["events"] != distinct:
        failures.append(f"{census['events']} deliveries recorded, {distinct} distinct sent")
    if census["codes"].get("duplicate", 0) != n - distinct:
        failures.append(f"{census['codes'].get('duplicate', 0)} duplicates answered, {n - distinct} replays sent")
    if census["resolved"] != SEQUENCES + PLAIN_DONE:
        failures.append(f"{census['resolved']} violations resolved from Jira, {SEQUENCES + PLAIN_DONE} expected")
    if statuses.get(202, 0) + statuses.get(200, 0) != n:
        failures.append(f"answers other than 200/202: {statuses}")
    print(f"targets: ≥ {TARGET_RATE}/s -> {'PASS' if rate >= TARGET_RATE else 'MISS'} ({rate:.0f}/s); p99 ≤ "
          f"{TARGET_P99_MS} ms -> {'PASS' if pct(99) <= TARGET_P99_MS else 'MISS'} ({pct(99):.0f} ms); "
          f"state changes applied = distinct changes ({expected_changes}) -> {'PASS' if not failures else 'FAIL'}")
    for failure in failures:
        print("FAIL", failure)
    print(f"serve log: {workdir / 'serve.log'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
