"""Web CPU per webhook delivery on the production profile, in one process: the figure that transfers.

    .venv/bin/python bench/webhook_intake_cpu.py --db postgres://postgres@127.0.0.1:5432/bench_intake \\
        --redis redis://127.0.0.1:6379/9 [--count 2000] [--profile] 2>/dev/null

Needs the world bench/webhook_intake.py builds once (`<db>_world` and its bodies); copies it into `<db>_cpu`.
Sends the intake bench's deliveries (seed 1, signed the same way) straight through Django's WSGI
application with the production settings (JSON logs, the middleware, Redis for the wake flag) and writes
gunicorn's access line for each, as a gunicorn worker would; no network, no gunicorn, no consumer.
Prints CPU and wall per delivery of this process (the web side only: PostgreSQL and Redis are other
processes), and with --profile a cProfile by cumulative CPU. A loaded machine inflates the figure less than
it slows the rate, but compare runs at a similar load average. Asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "bench")]

import webhook_intake as intake  # noqa: E402


def _environ(raw: bytes) -> dict:
    """The WSGI environ gunicorn would build from one of the sender's raw requests."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": intake.HOST,
               "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
               "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False}
    for line in lines[1:]:
        name, value = line.split(": ", 1)
        name = name.upper().replace("-", "_")
        environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"] = value
    return environ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the URL bench/webhook_intake.py was given")
    parser.add_argument("--redis", required=True, help="a scratch Redis database (the wake flag)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    server, name = args.db.rsplit("/", 1)
    kept = Path(tempfile.gettempdir()) / f"allyproof-bench-intake-{name}_world.json"
    if not kept.exists():
        raise SystemExit("run bench/webhook_intake.py with this --db first: it builds the world")
    scratch = f"{server}/{name}_cpu"
    intake._psql(f"{server}/postgres", f"drop database if exists {name}_cpu")
    intake._psql(f"{server}/postgres", f"create database {name}_cpu template {name}_world")
    subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)
    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-intake-cpu-"))
    (workdir / "data").mkdir()
    os.environ.update(intake.production_env(workdir, scratch, args.redis, 1, 1),
                      PROMETHEUS_MULTIPROC_DIR=str(workdir / "data"))
    data = json.loads(kept.read_text())["data"]
    deliveries, _ = intake.plan(data, 1)
    environs = [_environ(raw) for raw in intake.prepare(deliveries, data, 0)]

    import logging
    import logging.config

    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    from allyproof.core import gunicorn_conf, logs

    logging.config.dictConfig(gunicorn_conf.logconfig_dict)
    access = logging.getLogger("gunicorn.access")
    app = get_wsgi_application()

    def one(environ: dict) -> str:
        status: list[str] = []
        started = time.perf_counter()
        chunks = app(environ, lambda s, h, exc_info=None: status.append(s))
        b"".join(chunks)
        chunks.close()
        access.info("http.access", extra=logs.access_fields(
            environ, status[0], dt.timedelta(seconds=time.perf_counter() - started)))
        return status[0][:3]

    warm, count = 200, min(args.count, (len(environs) - 200) // 2)
    for environ in environs[:warm]:  # imports, the database connection, caches
        one(environ)
    statuses: dict[str, int] = {}
    load0, cpu0, wall0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    for environ in environs[warm:warm + count]:
        status = one(environ)
        statuses[status] = statuses.get(status, 0) + 1
    cpu, wall = (time.process_time() - cpu0) / count * 1000, (time.perf_counter() - wall0) / count * 1000
    print(f"{count} deliveries one at a time, statuses {statuses}: web CPU {cpu:.2f} ms, wall {wall:.2f} ms per "
          f"delivery; load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs",
          file=sys.__stdout__)
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for environ in environs[warm + count:warm + 2 * count]:
            one(environ)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue(), file=sys.__stdout__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
