"""Where a verified webhook delivery's server time goes: a cProfile of the request path, by part.

    .venv/bin/python bench/webhook_profile.py --db postgres://postgres@127.0.0.1:5432/bench_profile

Builds bench/webhooks.py's world (32 connections, 5,500 links, sandbox-made bodies in the 10/70/20 mix)
in a scratch database, then sends --count verified deliveries through the whole WSGI application
(every middleware, the view, the ORM, the database; no network, no gunicorn) under cProfile, and
prints the time per delivery of each part of the path, plus the cost of the pieces a "verify, insert,
2xx, apply in the worker" design would keep: the JWT check, the JSON parse and one INSERT.
It asserts nothing and changes nothing in the product; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "bench")]

# (label, file suffix, function name): cumulative time per delivery of each.
PARTS = [
    ("whole WSGI request (middleware + view)", "django/core/handlers/base.py", "get_response"),
    ("view: webhook_views.receive", "jira/webhook_views.py", "receive"),
    ("inbound.receive (intake)", "jira/inbound.py", "receive"),
    ("  authenticate (JWT HS256)", "jira/inbound.py", "authenticate"),
    ("  parse (json.loads + fields)", "jira/webhook_payload.py", "parse"),
    ("  connection_for_url", "jira/inbound.py", "connection_for_url"),
    ("  _record (the one INSERT)", "jira/inbound.py", "_record"),
    ("  sync_log_write (duplicates, refusals)", "jira/sync_log.py", "sync_log_write"),
    ("  inbound_apply.wake (Huey flag)", "jira/inbound_apply.py", "wake"),
    ("transaction commit", "django/db/backends/base/base.py", "commit"),
    ("logging (Logger.info/_log)", "logging/__init__.py", "_log"),
    ("SQL execution (cursor.execute)", "django/db/backends/utils.py", "_execute"),
    ("ORM query building (SQLCompiler.as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
    ("session/auth/csrf middleware", "django/contrib/sessions/middleware.py", "process_response"),
]
WORKER_PARTS = [
    ("inbound_apply.pending_apply (the worker)", "jira/inbound_apply.py", "pending_apply"),
    ("  status_sync.on_issue_updated", "jira/status_sync.py", "on_issue_updated"),
    ("    scan_fixed.is_transition_echo", "jira/scan_fixed.py", "is_transition_echo"),
    ("    sync_apply.link_observe", "jira/sync_apply.py", "link_observe"),
    ("  bulk_update + bulk_create", "django/db/models/query.py", "bulk_update"),
    ("SQL execution (cursor.execute)", "django/db/backends/utils.py", "_execute"),
    ("ORM query building (SQLCompiler.as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
]


def _environment(workdir: Path, db: str | None) -> None:
    os.environ.update(
        ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(workdir / "data"), DJANGO_SETTINGS_MODULE="allyproof.settings",
        ALLYPROOF_PUBLIC_URL="http://127.0.0.1:8000", ATLASSIAN_CLIENT_ID="allyproof-sandbox",
        ATLASSIAN_CLIENT_SECRET="sandbox-client-secret")
    os.environ.pop("REDIS_URL", None)
    if db:
        os.environ["DATABASE_URL"] = db
    (workdir / "data").mkdir(parents=True, exist_ok=True)


def _requests(workdir: Path, count: int):
    import webhooks as bench

    deliveries = bench.Deliveries(json.loads((workdir / "templates.json").read_text()))
    return deliveries.build(count, bench.CLIENT_SECRET)


def _wsgi_post(app, body: bytes, headers: dict[str, str], path: str) -> int:
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", "HTTP_HOST": "127.0.0.1",
    }
    for name, value in headers.items():
        if name.lower() != "content-type":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    status: list[str] = []
    chunks = app(environ, lambda s, h, exc_info=None: status.append(s))
    b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return int(status[0].split()[0])


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> tuple[float, int]:
    total, calls = 0.0, 0
    for (filename, _, function), (_, ncalls, _, cumtime, _) in stats.stats.items():
        if function == name and filename.endswith(suffix):
            total, calls = total + cumtime, calls + ncalls
    return total, calls


def _minimal_path(requests, count: int) -> dict[str, float]:
    """The pieces a verify-insert-2xx design keeps, timed alone (no profiler)."""
    import secrets

    from allyproof.core import clock
    from allyproof.integrations.jira.inbound import intake as inbound
    from allyproof.integrations.jira.models import InboundEvent

    sample = requests[:count]
    started = time.perf_counter()
    for _, headers, _ in sample:
        inbound.authenticate(headers["Authorization"])
    jwt_ms = (time.perf_counter() - started) / len(sample) * 1000
    started = time.perf_counter()
    events = [inbound.parse(body) for body, _, _ in sample]
    parse_ms = (time.perf_counter() - started) / len(sample) * 1000
    started = time.perf_counter()
    for event in events:
        InboundEvent.objects.create(
            identifier=secrets.token_hex(16), event=event.name, issue_id=event.issue_id, issue_key=event.issue_key,
            timestamp=event.timestamp, dedupe_key=f"minimal:{secrets.token_hex(12)}", received_at=clock.now(),
            outcome=InboundEvent.Outcome.IGNORED, detail="")
    insert_ms = (time.perf_counter() - started) / len(sample) * 1000
    return {"jwt_ms": jwt_ms, "parse_ms": parse_ms, "insert_ms": insert_ms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgres://… URL of an empty scratch database (default: throwaway SQLite)")
    parser.add_argument("--count", type=int, default=500, help="deliveries per batch (3 batches)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-profile-"))
    _environment(workdir, args.db)
    import webhooks as bench

    print("building the world …", flush=True)
    setup = bench._setup(workdir)
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    app = get_wsgi_application()
    third = args.count
    requests = _requests(workdir, 100 + 3 * third + 200)
    for body, headers, path in requests[:100]:  # warm-up: imports, connection, caches
        _wsgi_post(app, body, headers, path)
    batches = [requests[100 + i * third : 100 + (i + 1) * third] for i in range(3)]
    started, cpu = time.perf_counter(), time.process_time()
    statuses = [_wsgi_post(app, body, headers, path) for body, headers, path in batches[0]]
    plain_ms = (time.perf_counter() - started) / third * 1000
    plain_cpu = (time.process_time() - cpu) / third * 1000
    profiles, profilers = {}, {}
    for clock_name, timer, batch in (("wall", time.perf_counter, batches[1]), ("CPU", time.process_time, batches[2])):
        profiler = cProfile.Profile(timer)
        profiler.enable()
        statuses += [_wsgi_post(app, body, headers, path) for body, headers, path in batch]
        profiler.disable()
        profiles[clock_name], profilers[clock_name] = pstats.Stats(profiler), profiler
    from allyproof.integrations.jira.inbound import apply as inbound_apply

    inbound_apply.pending_apply()  # the warm-up's and the first batch's deliveries
    worker = cProfile.Profile(time.process_time)
    worker.enable()
    applied = inbound_apply.pending_apply()  # the two profiled batches' deliveries
    worker.disable()
    worker_stats = pstats.Stats(worker)
    minimal = _minimal_path(requests[100 + 3 * third :], 200)
    print(f"\ndatabase {connection.vendor}; world {setup['connections']} connections, {setup['links']} links; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{len(statuses)} deliveries, statuses {sorted(set(statuses))}")
    print(f"without profiler: {plain_ms:.2f} ms wall, {plain_cpu:.2f} ms CPU (this process) per delivery, "
          "one at a time")
    totals = {name: _cumulative(stats, "django/core/handlers/base.py", "get_response")[0]
              for name, stats in profiles.items()}
    print(f"\n{'part (profiled; per delivery)':<46} {'wall ms':>8} {'share':>6} {'CPU ms':>7} {'share':>6} {'calls':>6}")
    for label, suffix, name in PARTS:
        wall, calls = _cumulative(profiles["wall"], suffix, name)
        cpu_s, _ = _cumulative(profiles["CPU"], suffix, name)
        print(f"{label:<46} {wall / third * 1000:>8.2f} {wall / totals['wall']:>6.0%} "
              f"{cpu_s / third * 1000:>7.2f} {cpu_s / totals['CPU']:>6.0%} {calls / third:>6.1f}")
    worker_total = _cumulative(worker_stats, "jira/inbound_apply.py", "pending_apply")[0]
    print(f"\nworker: {applied} deliveries applied, profiled CPU per delivery")
    for label, suffix, name in WORKER_PARTS:
        cpu_s, calls = _cumulative(worker_stats, suffix, name)
        print(f"{label:<46} {'':>8} {'':>6} {cpu_s / max(1, applied) * 1000:>7.2f} {cpu_s / worker_total:>6.0%} "
              f"{calls / max(1, applied):>6.2f}")
    print("\nminimal path pieces, timed alone (wall): "
          + ", ".join(f"{k.removesuffix('_ms')} {v:.2f} ms" for k, v in minimal.items()))
    out = io.StringIO()
    pstats.Stats(profilers["CPU"], stream=out).sort_stats("tottime").print_stats(12)
    print("\ntop 12 by own CPU time:\n" + "\n".join(out.getvalue().splitlines()[6:24]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
