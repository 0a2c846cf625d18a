"""`./dev serve`: the production profile in one command (docs/production.md).

Runs, from the environment alone: migrations, collectstatic, then gunicorn and N Huey consumers,
of which exactly one runs the periodic scheduler (the others `--no-periodic`, so a half-hourly job
runs once, not N times). Queue on Redis when REDIS_URL is set, else on the SQLite queue in the data
folder; database from DATABASE_URL.

Supervision policy: Ctrl-C or SIGTERM stops every child gracefully (gunicorn SIGTERM, consumers
SIGINT so a running task finishes), SIGKILL after ALLYPROOF_STOP_TIMEOUT seconds. A consumer that
dies is reported and restarted (jobs are idempotent and the job sweep resumes what it held), at most
ALLYPROOF_MAX_RESTARTS times a minute; past that, or when gunicorn's master dies (it already
restarts its own workers), everything stops with exit status 1 so the outer supervisor (systemd,
supervisord) restarts the whole. Children get SIGTERM from the kernel if this process is killed
outright, so nothing is orphaned.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
RESTART_WINDOW = 60.0


def say(event: str, **fields) -> None:
    """serve's own lines are JSON like the children's, so one log pipeline reads them all."""
    print(json.dumps({"event": f"serve.{event}", **fields}), file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    host: str
    port: int
    web_workers: int
    consumers: int
    consumer_threads: int
    consumer_nice: int
    max_restarts: int
    stop_timeout: float
    queue: str


def _whole(env: dict[str, str], name: str, default: int, minimum: int, problems: list[str]) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < minimum:
        problems.append(f"{name}={raw!r} must be a whole number of at least {minimum}")
        return default
    return int(raw)


def plan_from(env: dict[str, str]) -> Plan:
    problems: list[str] = []
    redis = bool(env.get("REDIS_URL"))
    plan = Plan(
        host=env.get("ALLYPROOF_HOST") or "127.0.0.1",
        port=_whole(env, "ALLYPROOF_PORT", 8000, 0, problems),
        # gunicorn's advice, 2 × CPUs + 1: a sync worker waits on PostgreSQL for most of a webhook delivery,
        # and with 2 on 2 CPUs intake fell behind at 300 a second (docs/benchmarks.md, third session).
        web_workers=_whole(env, "ALLYPROOF_WEB_WORKERS", 2 * (os.cpu_count() or 1) + 1, 1, problems),
        # SQLite's queue serialises its writers: more than one consumer only adds lock waits.
        consumers=_whole(env, "ALLYPROOF_CONSUMERS", 2 if redis else 1, 1, problems),
        consumer_threads=_whole(env, "ALLYPROOF_CONSUMER_THREADS", 2, 1, problems),
        # Webhook intake answers Atlassian while the consumers apply behind it: on a shared machine at 300
        # deliveries a second, consumers at nice 10 gave 279-297/s and p99 1.1-2.7 s against 234-258/s and
        # 5.2-8.8 s at nice 0, every change still applied (docs/benchmarks.md, 2026-12-03). 0 turns it off.
        consumer_nice=_whole(env, "ALLYPROOF_CONSUMER_NICE", 10, 0, problems),
        max_restarts=_whole(env, "ALLYPROOF_MAX_RESTARTS", 5, 0, problems),
        stop_timeout=float(_whole(env, "ALLYPROOF_STOP_TIMEOUT", 20, 1, problems)),
        queue="redis" if redis else "sqlite",
    )
    if problems:
        raise SystemExit("serve cannot start; fix these environment variables:\n  - " + "\n  - ".join(problems))
    return plan


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ALLYPROOF_ENV", "production")
    data_dir = Path(env.get("ALLYPROOF_DATA_DIR") or ROOT / "var").resolve()
    env["ALLYPROOF_DATA_DIR"] = str(data_dir)
    # prometheus_client's multiprocess mode: every process writes its own files here and /metrics
    # adds them up. Files of a previous run would be counted again, so the folder starts empty.
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data_dir / "prometheus")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    return env


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound here and handed to gunicorn (fd://), so port 0 works and the real port is known."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def commands(plan: Plan, fd: int) -> dict[str, list[str]]:
    web = [
        PYTHON, "-m", "gunicorn", "allyproof.wsgi:application", "--config", "python:allyproof.core.gunicorn_conf",
        "--bind", f"fd://{fd}", "--workers", str(plan.web_workers), "--graceful-timeout", str(int(plan.stop_timeout) - 2),
    ]
    consumer = [PYTHON, "manage.py", "run_huey", "--workers", str(plan.consumer_threads), "--worker-type", "thread",
                "--shutdown-timeout", str(int(plan.stop_timeout) - 2)]
    found = {"web": web, "consumer-1": consumer}  # consumer-1 alone runs the periodic scheduler
    for number in range(2, plan.consumers + 1):
        found[f"consumer-{number}"] = [*consumer, "--no-periodic"]
    return found


def _die_with_parent() -> None:
    os.setpgrp()  # Ctrl-C reaches serve only; serve stops the children in order
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the graceful paths still stop every child
        pass


def prepare(env: dict[str, str]) -> None:
    for args in (["migrate", "--no-input", "-v", "1"], ["collectstatic", "--no-input", "-v", "0"]):
        say("step", command=args[0])
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


class Supervisor:
    def __init__(self, plan: Plan, env: dict[str, str], cmds: dict[str, list[str]], fd: int):
        self.plan, self.env, self.cmds, self.fd = plan, env, cmds, fd
        self.running: dict[str, subprocess.Popen] = {}
        self.restarts: deque[float] = deque()
        self.stopping = False

    def start(self, name: str) -> None:
        nice = self.plan.consumer_nice if name.startswith("consumer") else 0

        def before_exec() -> None:
            _die_with_parent()
            os.nice(nice)

        process = subprocess.Popen(self.cmds[name], cwd=ROOT, env=self.env, pass_fds=(self.fd,),
                                   preexec_fn=before_exec)
        self.running[name] = process
        say("started", process=name, pid=process.pid)

    def request_stop(self, signum, _frame) -> None:
        say("stopping", signal=signal.Signals(signum).name)
        self.stopping = True

    def _restart_allowed(self, now: float) -> bool:
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW:
            self.restarts.popleft()
        return len(self.restarts) < self.plan.max_restarts

    def _handle_exit(self, name: str, process: subprocess.Popen) -> int | None:
        """What a dead child means: None = keep going, else the exit status for the whole."""
        now = time.monotonic()
        restart = name.startswith("consumer") and self._restart_allowed(now)
        say("child_exited", process=name, pid=process.pid, returncode=process.returncode,
            action="restart" if restart else "stop_all")
        if not restart:
            return 1
        self.restarts.append(now)
        time.sleep(1.0)  # a consumer that dies at once (Redis down) must not spin
        self.start(name)
        return None

    def watch(self) -> int:
        while not self.stopping:
            for name, process in list(self.running.items()):
                if process.poll() is not None and not self.stopping:
                    status = self._handle_exit(name, process)
                    if status is not None:
                        self.stopping = True
                        self.stop_all()
                        return status
            time.sleep(0.2)
        self.stop_all()
        return 0

    def stop_all(self) -> None:
        for name, process in self.running.items():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if name == "web" else signal.SIGINT)
        deadline = time.monotonic() + self.plan.stop_timeout
        for name, process in self.running.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say("killed", process=name, pid=process.pid)
                process.kill()
                process.wait()
        for process in self.running.values():
            # Each child leads its own process group: whatever it left behind (gunicorn's workers
            # after their master was killed) goes with it.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        say("stopped")


def main() -> int:
    plan = plan_from(dict(os.environ))
    env = environment()
    prepare(env)
    sock = listening_socket(plan.host, plan.port)
    supervisor = Supervisor(plan, env, commands(plan, sock.fileno()), sock.fileno())
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    for name in supervisor.cmds:
        supervisor.start(name)
    port = sock.getsockname()[1]
    say("listening", url=f"http://{plan.host}:{port}/", port=port, queue=plan.queue,
        consumers=plan.consumers, web_workers=plan.web_workers)
    status = supervisor.watch()
    sock.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
