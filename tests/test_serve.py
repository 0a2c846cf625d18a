"""`./dev serve` (scripts/serve.py): the production profile, started for real and stopped for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.services import redis_url, require_postgres

ROOT = Path(__file__).resolve().parents[1]
SECRET_CODE = "oauth-code-that-must-never-be-logged-7f3a"
SECRET_BEARER = "bearer-value-that-must-never-be-logged-91c2"


# What the TLS-terminating proxy in front of gunicorn adds to every request it forwards.
PROXIED = {"Host": "allyproof.example.test", "X-Forwarded-Proto": "https"}


def _get(url: str, **kwargs) -> httpx.Response:
    return httpx.get(url, headers={**PROXIED, **kwargs.pop("headers", {})}, **kwargs)


def _post(url: str, **kwargs) -> httpx.Response:
    return httpx.post(url, headers={**PROXIED, **kwargs.pop("headers", {})}, **kwargs)


def production_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLYPROOF_", "DATABASE_URL", "REDIS_URL"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        ALLYPROOF_ENV="production", ALLYPROOF_DATA_DIR=str(data_dir), ALLYPROOF_SECRET_KEY="serve-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLYPROOF_BEHIND_PROXY="1", ALLYPROOF_PROXY_SSL_HEADER="X-Forwarded-Proto",
        ALLYPROOF_ENCRYPTION_KEYS="p1:dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYnk=",
        ALLYPROOF_PUBLIC_URL="https://allyproof.example.test", ATLASSIAN_CLIENT_ID="client-id",
        ATLASSIAN_CLIENT_SECRET="client-secret-value", ALLYPROOF_PORT="0", ALLYPROOF_WEB_WORKERS="1",
        ALLYPROOF_CONSUMER_THREADS="1", ALLYPROOF_STOP_TIMEOUT="15",
    )
    env.update(extra)
    return env


class Served:
    """serve.py in a subprocess; its output (JSON events and the children's logs) collected as it comes."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen([sys.executable, "scripts/serve.py"], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def events(self, name: str) -> list[dict]:
        found = []
        for line in list(self.lines):
            if line.startswith("{") and f'"serve.{name}"' in line:
                found.append(json.loads(line))
        return found

    def wait_for(self, name: str, count: int = 1, timeout: float = 120) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.events(name)) >= count:
                return self.events(name)
            assert self.process.poll() is None, "serve exited early:\n" + "".join(self.lines[-40:])
            time.sleep(0.2)
        raise AssertionError(f"no serve.{name} within {timeout} s:\n" + "".join(self.lines[-40:]))

    def wait_for_text(self, text: str, timeout: float = 120) -> None:
        """A child's own start-up line (a consumer at a lower priority says it later than serve's events)."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, "serve exited early:\n" + "".join(self.lines[-40:])
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n" + "".join(self.lines[-40:]))
            time.sleep(0.2)

    def health(self, base: str) -> httpx.Response:
        deadline = time.monotonic() + 60
        while True:
            try:
                return _get(base + "health/?format=json", timeout=10)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=40)

    def output(self) -> str:
        return "".join(self.lines)


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc (children of children included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def still_alive(pids, timeout: float = 15.0) -> list[int]:
    """The pids still running once `timeout` has passed: a SIGKILLed process takes a moment to go on a
    loaded machine, and an orphan is reaped by init, not by us."""
    deadline = time.monotonic() + timeout
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


def touch_secrets(base: str) -> None:
    """Requests whose secrets must stay out of every log line: an OAuth callback, a bearer header."""
    _get(base + f"settings/integrations/jira/callback/?code={SECRET_CODE}&state=abc", timeout=10)
    _post(base + "integrations/jira/webhook/no-such-connection/", headers={"Authorization": f"Bearer {SECRET_BEARER}"},
               content=b"{}", timeout=10)


@pytest.fixture
def fresh_postgres_url():
    """An empty database next to the test database, so serve's migrations run from scratch."""
    require_postgres()
    import psycopg

    settings = connection.settings_dict
    name = f"{settings['NAME']}_serve"[:60]
    server = dict(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432, user=settings["USER"],
                  password=settings["PASSWORD"] or None, dbname="postgres", autocommit=True)
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    yield f"postgres://{auth}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.services
@pytest.mark.postgres
def test_serve_on_postgres_and_redis(tmp_path, fresh_postgres_url):
    env = production_env(tmp_path / "data", DATABASE_URL=fresh_postgres_url, REDIS_URL=redis_url(),
                         ALLYPROOF_CONSUMERS="2", ALLYPROOF_WEB_WORKERS="2")
    served = Served(env)
    try:
        listening = served.wait_for("listening")[0]
        base = listening["url"]
        assert (listening["queue"], listening["consumers"]) == ("redis", 2)
        answer = served.health(base)
        assert answer.status_code == 200, answer.text
        states = {row["name"]: row for row in answer.json()["checks"]}
        assert states["database"]["state"] == "ok" and states["redis"]["state"] == "ok"
        assert states["queue"]["detail"].startswith("Redis queue:")
        touch_secrets(base)
        for _ in range(5):
            _post(base + "integrations/jira/webhook/no-such-connection/", content=b"{}", timeout=10)
        # Two gunicorn workers answered those; one scrape counts all six (multiprocess mode).
        scrape = _get(base + "metrics", timeout=10).text
        assert 'allyproof_jira_webhook_deliveries_total{outcome="unknown_url"} 6.0' in scrape
        started = {event["process"]: event["pid"] for event in served.events("started")}
        assert set(started) == {"web", "consumer-1", "consumer-2"}
        # Exactly one scheduler: the first consumer runs periodic tasks, the second does not.
        served.wait_for_text("Periodic tasks are enabled.")
        served.wait_for_text("Periodic tasks are disabled.")
        assert served.output().count("Periodic tasks are enabled.") == 1
        assert served.output().count("Periodic tasks are disabled.") == 1

        # A consumer killed outright is reported and restarted; the rest keep serving.
        os.kill(started["consumer-2"], signal.SIGKILL)
        exited = served.wait_for("child_exited")[0]
        assert (exited["process"], exited["returncode"], exited["action"]) == ("consumer-2", -9, "restart")
        restarted = served.wait_for("started", count=4)[-1]
        assert restarted["process"] == "consumer-2" and restarted["pid"] != started["consumer-2"]
        assert served.health(base).status_code == 200

        children = descendants(served.process.pid)
        assert len(children) >= 4, children  # gunicorn master + worker, two consumers
        assert served.stop() == 0
        assert still_alive(children) == []  # no orphan left behind
    finally:
        if served.process.poll() is None:
            served.process.kill()
    output = served.output()
    assert SECRET_CODE not in output and SECRET_BEARER not in output
    assert '"path": "/settings/integrations/jira/callback/"' in output  # the request was logged, without its query


def test_serve_without_redis_uses_the_sqlite_queue_and_stops_cleanly(tmp_path):
    env = production_env(tmp_path / "data")
    served = Served(env)
    try:
        listening = served.wait_for("listening")[0]
        assert (listening["queue"], listening["consumers"]) == ("sqlite", 1)
        answer = served.health(listening["url"])
        assert answer.status_code == 200, answer.text
        states = {row["name"]: row for row in answer.json()["checks"]}
        assert states["redis"]["state"] == "not used"
        assert states["queue"]["detail"].startswith("SQLite queue:")
        children = descendants(served.process.pid)
        assert served.stop(signal.SIGINT) == 0  # Ctrl-C
        assert still_alive(children) == []
    finally:
        if served.process.poll() is None:
            served.process.kill()


def test_when_the_web_master_dies_everything_stops_with_status_1(tmp_path):
    served = Served(production_env(tmp_path / "data", ALLYPROOF_WEB_WORKERS="2"))
    try:
        served.health(served.wait_for("listening")[0]["url"])
        web = next(event["pid"] for event in served.events("started") if event["process"] == "web")
        children = descendants(served.process.pid)
        assert len(children) >= 4, children  # master, 2 workers, a consumer
        os.kill(web, signal.SIGKILL)
        assert served.process.wait(timeout=40) == 1
        exited = served.events("child_exited")
        assert [(e["process"], e["returncode"], e["action"]) for e in exited] == [("web", -9, "stop_all")]
        assert still_alive(children) == []  # the orphaned gunicorn workers too
    finally:
        if served.process.poll() is None:
            served.process.kill()


def test_a_database_url_without_redis_still_finds_its_queue_folder(tmp_path):
    """The SQLite queue's folder is created even when the database is elsewhere (it used to fail with
    "unable to open database file" before any command could run)."""
    data_dir = tmp_path / "not-yet-created"
    env = production_env(data_dir, DATABASE_URL="postgres://nobody@127.0.0.1:1/never-connected")
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (data_dir / "huey.sqlite3").exists()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ALLYPROOF_CONSUMERS", "0", "ALLYPROOF_CONSUMERS='0' must be a whole number of at least 1"),
        ("ALLYPROOF_WEB_WORKERS", "two", "ALLYPROOF_WEB_WORKERS='two' must be a whole number of at least 1"),
        ("ALLYPROOF_PORT", "-1", "ALLYPROOF_PORT='-1' must be a whole number of at least 0"),
    ],
)
def test_serve_refuses_bad_settings_before_starting_anything(tmp_path, variable, value, message):
    env = production_env(tmp_path / "data", **{variable: value})
    done = subprocess.run([sys.executable, "scripts/serve.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and message in done.stderr
    assert not (tmp_path / "data").exists()  # nothing migrated, nothing created


def serve_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_script", ROOT / "scripts" / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = serve  # its dataclasses look their module up while the module runs
    try:
        spec.loader.exec_module(serve)
    finally:
        del sys.modules[spec.name]
    return serve


def test_consumers_start_at_a_lower_cpu_priority_than_the_web_workers(tmp_path):
    serve = serve_script()
    assert serve.plan_from({}).consumer_nice == 10 and serve.plan_from({"ALLYPROOF_CONSUMER_NICE": "0"}).consumer_nice == 0
    report = "import os, sys; open(sys.argv[1], 'w').write(str(os.nice(0)))"
    cmds = {name: [sys.executable, "-c", report, str(tmp_path / name)] for name in ("web", "consumer-1")}
    read_fd, write_fd = os.pipe()  # serve hands gunicorn a listening socket's fd; any inheritable fd will do here
    os.set_inheritable(read_fd, True)
    supervisor = serve.Supervisor(serve.plan_from({}), dict(os.environ), cmds, read_fd)
    for name in cmds:
        supervisor.start(name)
    for process in supervisor.running.values():
        process.wait(timeout=30)
    os.close(read_fd)
    os.close(write_fd)
    base = os.nice(0)
    assert int((tmp_path / "web").read_text()) == base
    assert int((tmp_path / "consumer-1").read_text()) == min(19, base + 10)


def test_web_workers_default_to_gunicorns_advice_and_the_environment_overrides_it():
    serve = serve_script()
    assert serve.plan_from({}).web_workers == 2 * (os.cpu_count() or 1) + 1  # sync workers wait on the database
    assert serve.plan_from({"ALLYPROOF_WEB_WORKERS": "3"}).web_workers == 3
