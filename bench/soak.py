"""Soak with faults on the production profile (issue 11, Prove): nothing lost, nothing twice.

    .venv/bin/python bench/soak.py --db postgres://postgres@127.0.0.1:5432/soak --redis redis://127.0.0.1:6379/9
    .venv/bin/python bench/soak.py ... --orgs 2 --sites 3 --violations 20     # a small run first

What runs, all on this machine:
  * the Jira sandbox as its own process (`python -m jira_sandbox serve --deliver-to <gunicorn>`): one Jira
    site per organization with projects ACME, WEB and OPS; its webhooks go to gunicorn with the public
    host in `Host` and `X-Forwarded-Proto: https`, as the TLS proxy in front of the app would;
  * `scripts/serve.py` (what `./dev serve` runs), ALLYPROOF_ENV=production: migrations, gunicorn, two Huey
    consumers on Redis (one with the scheduler), PostgreSQL;
  * children of this script for the product's side (Django, the same environment): `setup` connects each
    organization over the real OAuth flow (connect, consent, callback, choose its own site), creates its
    sites and saves sync rules (site 1: ACME, every severity, auto-push; site 2: WEB, critical and
    serious only, auto-push; site 3 and more: excluded) and registers the webhook as the rules page does;
    `scan` completes scans through `monitoring.services.scan_ingest`, the service the scanner calls
    when a scan finishes (no Chromium: 30 real crawls would not fit the 15 minutes on 2 CPUs), so the
    product's own scan-completed receivers queue auto-push and the "detected again" follow-ups;
    `census` reads what the checks need.

While it runs: about --fault-share of Jira API calls are faulted (500, timeout, late commit, lost
response, unreadable 2xx, 429 with each of Jira's four reasons), one site at a time gets a search lag,
about --delivery-share of webhook deliveries are dropped, doubled or reordered; each consumer is SIGKILLed
twice while pushes run (serve restarts it); halfway the excluded site of each organization gets a rule
(OPS, no auto-push), so every registration changes under faults. People then move issues in the sandbox:
some to Done (kept), some to Done and back to To Do, some to Done and then found again by a re-scan
(regressions). Reconciliation is run with the operator command (`manage.py allyproof_jira_run
reconcile`, what the schedule runs every 30 minutes) after the people's last move, and again after
the re-scan.

Checks (PASS/MISS each), after the faults stop and the queues drain:
  1. exactly one live, unrepaired Jira issue per eligible violation, none for excluded or
     below-threshold ones (duplicates Jira got from unknown outcomes must be repaired by convergence);
  2. every issue moved to Done (and left there) resolved after one reconciliation run;
  3. no regression re-resolved (their issues stay Done in Jira; the re-scan reopened them);
     issues moved Done and back end open;
  4. every connection's registration matches its rules (desired JQL, the ids Jira lists);
  5. zero conformance failures in the sandbox (requests and responses against Atlassian's OpenAPI);
  6. no token, secret or OAuth code in any log of any product process.
Exit status 1 on a MISS. Figures: calls, faults by kind, deliveries and their faults, restarts, phases,
load average.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "bench")]

HOST = "allyproof.example.test"
CLIENT_ID, CLIENT_SECRET = "allyproof-sandbox", "soak-client-secret-6f1d2c9e"
SECRET_KEY = "soak-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-QWERTYU"
ENCRYPTION_KEY = "s1:c29hay1vbmx5LWtleS1zb2FrLW9ubHkta2V5LTMyYnk="
METRICS_TOKEN = "soak-metrics-token-5b7e0a"
PROJECTS = ("ACME", "WEB", "OPS")
QUOTA = ("jira-quota-global-based", "jira-quota-tenant-based")
QUOTA_WINDOW = 600
REASONS = ("jira-quota-global-based", "jira-quota-tenant-based", "jira-burst-based", "jira-per-issue-on-write")
# Short windows so a 15-minute run sees every protocol through (documented in docs/benchmarks.md):
# the product's HTTP timeout, the unknown-outcome commit window and search-lag window (the sandbox
# commits late writes 3 s later and lags search by at most 20 s), and the heartbeat after which the
# sweep resumes the job of a killed consumer.
CLIENT_TIMEOUT = 8
WINDOWS = {"JIRA_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT), "JIRA_COMMIT_WINDOW_SECONDS": "30",
           "JIRA_SEARCH_LAG_SECONDS": "40", "JIRA_JOB_STALE_SECONDS": "30"}


def fault_kinds() -> list[dict[str, Any]]:
    hang = CLIENT_TIMEOUT + 1
    kinds = [{"kind": "error", "status": 500}, {"kind": "timeout", "seconds": hang},
             {"kind": "late_commit", "seconds": hang, "commit_after": 3},
             {"kind": "drop_response_after_commit"}, {"kind": "commit_then_unreadable"}]
    kinds += [{"kind": "rate_limit", "reason": r, "retry_after": 2} for r in REASONS]
    return kinds


def to_the_hour(now: float) -> int:
    return 3600 - int(now) % 3600


def realistic(kind: dict[str, Any], now: float) -> dict[str, Any] | None:
    """A quota 429 (global or per site) means the hour's points are spent: Jira refuses until the top of
    the hour, so Retry-After says so, and the product pauses that long (by design). Injected only in an
    hour's last QUOTA_WINDOW seconds, so a 15-minute run can wait the pause out; None outside it."""
    if kind.get("reason") not in QUOTA:
        return kind
    left = to_the_hour(now)
    return {**kind, "retry_after": left} if left <= QUOTA_WINDOW else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cloud_id(t: int) -> str:
    return f"50a40000-0000-4000-8000-{t:012d}"


def production_env(workdir: Path, db: str, redis: str, sandbox: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLYPROOF_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        ALLYPROOF_ENV="production", ALLYPROOF_DATA_DIR=str(workdir / "data"), PYTHONPATH=str(REPO_ROOT),
        ALLYPROOF_SECRET_KEY=SECRET_KEY, ALLYPROOF_BEHIND_PROXY="1", ALLYPROOF_PROXY_SSL_HEADER="X-Forwarded-Proto",
        ALLYPROOF_ENCRYPTION_KEYS=ENCRYPTION_KEY, ALLYPROOF_PUBLIC_URL=f"https://{HOST}",
        ALLYPROOF_METRICS_TOKEN=METRICS_TOKEN, ATLASSIAN_CLIENT_ID=CLIENT_ID, ATLASSIAN_CLIENT_SECRET=CLIENT_SECRET,
        ATLASSIAN_AUTH_URL=sandbox, ATLASSIAN_API_URL=sandbox, ALLYPROOF_PORT="0", ALLYPROOF_CONSUMERS="2",
        ALLYPROOF_CONSUMER_THREADS="4", DATABASE_URL=db, REDIS_URL=redis, DJANGO_SETTINGS_MODULE="allyproof.settings",
        ALLYPROOF_LOG_FORMAT="json", ALLYPROOF_MAX_RESTARTS="10", **WINDOWS)
    return env


# --- children (Django, the production environment) -----------------------------------------------------

def _django():
    import django

    django.setup()
    import httpx

    from allyproof.integrations.jira.connection import client as jira_client

    jira_client.use_transport(httpx.HTTPTransport())


def child_setup(orgs: int, sites: int) -> dict[str, Any]:
    _django()
    import httpx
    from django.test import Client
    from django.urls import reverse

    from allyproof.core import impact as impacts
    from allyproof.integrations.jira.outbound import rules
    from allyproof.integrations.jira.connection import webhooks
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.models import JiraConnection
    from tests import factories

    out = []
    for t in range(orgs):
        org = factories.organization(f"Agency {t + 1}")
        admin = factories.member(org, f"admin@agency-{t + 1}.test", "admin")
        web = Client(HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
        web.force_login(admin)
        authorize = web.post(reverse("jira_connect"))["Location"]
        consent = httpx.get(authorize)
        location = urlsplit(consent.headers["location"])
        assert parse_qs(location.query).get("code"), consent.text[:300]
        web.get(f"{location.path}?{location.query}")
        connection = JiraConnection.objects.exclude(status="disconnected").get(organization=org)
        if connection.status == JiraConnection.Status.CHOOSING_SITE:
            web.post(reverse("jira_choose_site"), {"cloud_id": cloud_id(t)})
            connection.refresh_from_db()
        assert connection.status == JiraConnection.Status.ACTIVE and connection.cloud_id == cloud_id(t)
        made = [factories.site(org, f"Client {t + 1}-{s + 1}", f"https://client-{t + 1}-{s + 1}.example/")
                for s in range(sites)]
        inputs = []
        for s, site in enumerate(made):
            if s == 0:
                inputs.append(rules.RuleInput(site.pk, True, "ACME", frozenset(impacts.VALUES), "", True))
            elif s == 1:
                inputs.append(rules.RuleInput(site.pk, True, "WEB", frozenset({"critical", "serious"}), "", True))
            else:
                inputs.append(rules.RuleInput(site.pk, False, "OPS", frozenset(impacts.VALUES), "", False))
        client = client_for(connection)
        result = rules.rules_save(connection=connection, by=admin, client=client, inputs=inputs)
        assert result.ok, result.errors
        webhooks.webhook_sync(connection=connection, client=client)  # as the rules page does
        out.append({"org": org.pk, "slug": org.slug, "connection": connection.pk, "cloud_id": connection.cloud_id,
                    "sites": [s.pk for s in made]})
    return {"tenants": out}


def _results(site_url: str, rule_ids: list[str], pool: dict[str, Any]) -> bytes:
    """One page's axe.run() result failing the given rules (ids beyond the pool are numbered copies)."""
    failing = pool["failing"]
    names = sorted(failing)
    violations = []
    for rid in rule_ids:
        base = failing[names[int(rid.rsplit("-n", 1)[1]) % len(names)]] if rid.startswith("soak-copy-n") else failing[rid]
        m = base["meta"]
        node = dict(base["templates"][0])
        violations.append({"id": rid, "impact": base["impact"], "tags": m["tags"], "description": m["description"],
                           "help": m["help"], "helpUrl": m["helpUrl"],
                           "nodes": [{k: node[k] for k in ("any", "all", "none", "html", "target", "failureSummary")}
                                     | {"impact": base["impact"]}]})
    page = {**{k: pool["header"][k] for k in ("testEngine", "testRunner", "testEnvironment")},
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "url": site_url,
            "toolOptions": pool["header"]["toolOptions"], "inapplicable": [], "passes": [], "incomplete": [],
            "violations": violations}
    return json.dumps([page]).encode()


def rule_ids(count: int) -> list[str]:
    from _axe_generator import load_pool

    names = sorted(load_pool()["failing"])
    return [names[i] if i < len(names) else f"soak-copy-n{i}" for i in range(count)]


def child_scan(site_ids: list[int], violations: int, omit: dict[str, list[str]]) -> dict[str, Any]:
    """Completes one scan per site; `omit` (by site id) lists rules a site no longer fails."""
    _django()
    from _axe_generator import load_pool

    from allyproof.monitoring import services
    from allyproof.monitoring.models import Site

    pool = load_pool()
    done = []
    for site in Site.objects.filter(pk__in=site_ids).order_by("pk"):
        ids = [r for r in rule_ids(violations) if r not in set(omit.get(str(site.pk), []))]
        scan = services.scan_start(site=site, source="scheduled")
        services.scan_ingest(site=site, stream=io.BytesIO(_results(site.base_url, ids, pool)), source="scheduled",
                             scan=scan)
        done.append({"site": site.pk, "scan": scan.pk, "new": scan.new_violations, "reopened": scan.reopened_violations})
    return {"scans": done}


def child_rules(tenants: list[dict[str, Any]]) -> dict[str, Any]:
    """The excluded sites get a rule (OPS, no auto-push) under faults: every registration changes."""
    _django()
    from allyproof.core import impact as impacts
    from allyproof.integrations.jira.outbound import rules
    from allyproof.integrations.jira.connection import webhooks
    from allyproof.integrations.jira.connection.errors import JiraError
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.models import JiraConnection

    failed = 0
    for t in tenants:
        connection = JiraConnection.objects.get(pk=t["connection"])
        client = client_for(connection)
        inputs = [rules.RuleInput(s, True, "OPS", frozenset(impacts.VALUES), "", False) for s in t["sites"][2:]]
        try:
            result = rules.rules_save(connection=connection, by=None, client=client, inputs=inputs)
        except JiraError:
            result = None
        if result is None or not result.ok:
            failed += 1
            continue
        try:
            webhooks.webhook_sync(connection=connection, client=client)
        except JiraError:
            failed += 1  # recorded on the connection; the webhook-heal job retries it
    return {"rules_failed": failed}


def child_census(ask_jira: bool) -> dict[str, Any]:
    _django()
    from allyproof.integrations.jira.connection import webhooks
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.models import JiraConnection, JiraLink, RepairedDuplicate
    from allyproof.integrations.jira.connection import vault
    from allyproof.monitoring.models import Violation

    violations = []
    for v in Violation.objects.select_related("site").order_by("pk"):
        links = list(JiraLink.objects.filter(violation=v).values("status", "issue_key", "dedupe_key"))
        violations.append({"id": v.pk, "site": v.site_id, "impact": v.impact, "status": v.status,
                           "resolved_at": v.resolved_at.timestamp() if v.resolved_at else None,
                           "resolved_source": v.resolved_source,
                           "reopened_at": v.reopened_at.timestamp() if v.reopened_at else None,
                           "links": [{**link, "label": f"allyproof-{link['dedupe_key'][:16]}"} for link in links]})
    connections, secrets = [], []
    for connection in JiraConnection.objects.active():
        desired = webhooks.desired_jql(connection)
        listed = {h["id"]: h.get("jqlFilter") for h in webhooks._ours(connection, client_for(connection))} \
            if ask_jira else {}
        connections.append({"id": connection.pk, "desired": desired, "stored": connection.webhook_jql,
                            "ids": connection.webhook_ids, "error": connection.webhook_error,
                            "listed": {str(k): v for k, v in listed.items()}})
        secrets.append(connection.webhook_token)
        secrets.extend(t for t in (vault.open_(connection, "access_token"), vault.open_(connection, "refresh_token")) if t)
    repaired = list(RepairedDuplicate.objects.values_list("duplicate_key", flat=True))
    return {"violations": violations, "connections": connections, "secrets": secrets, "repaired": repaired}


# --- the parent ---------------------------------------------------------------------------------------

class Run:
    def __init__(self, args, workdir: Path):
        self.args, self.workdir = args, workdir
        self.logs: list[Path] = []
        self.phases: list[tuple[str, float]] = []
        self.started = time.monotonic()
        self.sandbox_url = ""
        self.env: dict[str, str] = {}

    def phase(self, name: str) -> None:
        at = time.monotonic() - self.started
        self.phases.append((name, at))
        print(f"[{at:6.1f} s] {name}", flush=True)

    def child(self, name: str, *extra: str) -> dict[str, Any]:
        log = self.workdir / f"child-{name}-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "w") as err:
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name, *extra],
                                 env=self.env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
        if out.returncode:
            raise SystemExit(f"child {name} failed; see {log}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def operator(self, *command: str) -> str:
        log = self.workdir / f"operator-{command[0]}-{len(self.logs)}.log"
        self.logs.append(log)
        out = subprocess.run([sys.executable, "manage.py", *command], env=self.env, cwd=REPO_ROOT,
                             capture_output=True, text=True)
        log.write_text(out.stdout + out.stderr)
        return out.stdout.strip()

    def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        answer = httpx.request(method, self.sandbox_url + "/_sandbox/" + path, json=body, timeout=60)
        return answer.json()


class Injector(threading.Thread):
    """Keeps the faulted share of Jira calls and of webhook deliveries near the targets."""

    def __init__(self, run: Run, fault_share: float, delivery_share: float, clouds: list[str], seed: int):
        super().__init__(daemon=True)
        self.run_, self.fault_share, self.delivery_share, self.clouds = run, fault_share, delivery_share, clouds
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.calls = self.faults_added = self.deliveries = self.delivery_faults = 0
        self.seen_time = 0.0
        self.by_kind: dict[str, int] = {}
        self.lags = 0

    def run(self) -> None:
        kinds = fault_kinds()
        next_lag = time.monotonic()
        while not self.stop.wait(0.4):
            try:
                records = self.run_.sandbox("GET", "requests")
                fresh = [r for r in records if r["time"] > self.seen_time and r["path"].startswith("/ex/jira/")]
                if records:
                    self.seen_time = max(self.seen_time, max(r["time"] for r in records))
                self.calls += len(fresh)
                pending = sum(1 for f in self.run_.sandbox("GET", "faults") if not str(f["kind"]).startswith("delivery:"))
                for _ in range(max(0, round(self.calls * self.fault_share) - self.faults_added)):
                    kind = None
                    while kind is None:
                        kind = realistic(self.rng.choice(kinds), time.time())
                    self.run_.sandbox("POST", "faults", {**kind, "path": "/ex/jira/", "count": 1})
                    self.faults_added += 1
                    label = kind["kind"] + (f":{kind['reason']}" if "reason" in kind else "")
                    self.by_kind[label] = self.by_kind.get(label, 0) + 1
                del pending
                self.deliveries = len(self.run_.sandbox("GET", "deliveries"))
                for _ in range(max(0, round(self.deliveries * self.delivery_share) - self.delivery_faults)):
                    kind = self.rng.choice(("drop", "duplicate", "reorder"))
                    self.run_.sandbox("POST", "delivery-faults", {"kind": kind, "count": 1})
                    self.delivery_faults += 1
                    self.by_kind["delivery:" + kind] = self.by_kind.get("delivery:" + kind, 0) + 1
                if time.monotonic() >= next_lag:  # search lag on one site at a time, 20 s each
                    for c in self.clouds:
                        self.run_.sandbox("POST", "search-lag", {"cloud_id": c, "seconds": 0})
                    self.run_.sandbox("POST", "search-lag", {"cloud_id": self.rng.choice(self.clouds), "seconds": 20})
                    self.lags += 1
                    next_lag = time.monotonic() + 20
            except Exception as problem:  # a busy sandbox answers late; keep injecting
                print(f"injector: {type(problem).__name__}: {problem}", flush=True)

    def halt(self) -> None:
        self.stop.set()
        self.join(timeout=10)
        self.run_.sandbox("DELETE", "faults")
        for c in self.clouds:
            self.run_.sandbox("POST", "search-lag", {"cloud_id": c, "seconds": 0})


def _pg(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def scalar(db: str, sql: str) -> Any:
    with _pg(db) as conn:
        return conn.execute(sql).fetchone()[0]


def wait_until(what: str, predicate, timeout: float, interval: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    print(f"  (gave up waiting for {what} after {timeout:.0f} s)", flush=True)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgres://… URL of a scratch database (dropped and created)")
    parser.add_argument("--redis", help="redis://… URL of a scratch Redis database (flushed)")
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--sites", type=int, default=3, help="per organization, at least 3 (default 3)")
    parser.add_argument("--violations", type=int, default=100, help="per site (default 100)")
    parser.add_argument("--fault-share", type=float, default=0.10)
    parser.add_argument("--delivery-share", type=float, default=0.20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--budget", type=float, default=840, help="seconds the whole run may take (default 840)")
    parser.add_argument("--child", choices=["setup", "scan", "rules", "census"], help=argparse.SUPPRESS)
    parser.add_argument("--arg", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "setup":
        print(json.dumps(child_setup(int(args.arg[0]), int(args.arg[1]))))
        return 0
    if args.child == "scan":
        print(json.dumps(child_scan(json.loads(args.arg[0]), int(args.arg[1]), json.loads(args.arg[2]))))
        return 0
    if args.child == "rules":
        print(json.dumps(child_rules(json.loads(args.arg[0]))))
        return 0
    if args.child == "census":
        print(json.dumps(child_census(args.arg == ["jira"])))
        return 0
    if not (args.db and args.redis) or args.sites < 3:
        parser.error("--db and --redis are required (scratch: the soak drops and fills them); --sites at least 3")
    workdir = Path(tempfile.mkdtemp(prefix="allyproof-soak-"))
    (workdir / "data").mkdir()
    return soak(args, workdir)


def soak(args, workdir: Path) -> int:
    run = Run(args, workdir)
    server, name = args.db.rsplit("/", 1)
    subprocess.run(["psql", f"{server}/postgres", "-qc", f'drop database if exists "{name}"'], check=True)
    subprocess.run(["psql", f"{server}/postgres", "-qc", f'create database "{name}"'], check=True)
    subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)
    port = free_port()
    run.sandbox_url = f"http://127.0.0.1:{port}"
    run.env = production_env(workdir, args.db, args.redis, run.sandbox_url)
    load0 = os.getloadavg()
    processes: list[subprocess.Popen] = []
    serve_log = workdir / "serve.log"
    run.logs.append(serve_log)
    serve = subprocess.Popen([sys.executable, "scripts/serve.py"], cwd=REPO_ROOT, env=run.env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    processes.append(serve)
    state: dict[str, Any] = {"port": None, "pids": {}, "restarts": 0}

    def read_serve() -> None:
        with open(serve_log, "w") as log:
            for line in serve.stdout:
                log.write(line)
                log.flush()
                if '"serve.' not in line:
                    continue
                try:
                    fields = json.loads(line[line.index("{"):])
                except ValueError:
                    continue
                if fields.get("event") == "serve.listening":
                    state["port"] = fields["port"]
                elif fields.get("event") == "serve.started":
                    state["pids"][fields["process"]] = fields["pid"]
                elif fields.get("event") == "serve.child_exited" and fields.get("action") == "restart":
                    state["restarts"] += 1

    threading.Thread(target=read_serve, daemon=True).start()
    injector = None
    try:
        run.phase("serve starting (migrations, gunicorn, 2 consumers on Redis)")
        if not wait_until("serve", lambda: state["port"] is not None or serve.poll() is not None, 180, 0.2) \
                or state["port"] is None:
            raise SystemExit(f"serve did not start; see {serve_log}")
        world = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                 "sites": [{"cloud_id": cloud_id(t), "name": f"Tenant {t + 1}", "slug": f"tenant-{t + 1}",
                            "url": f"https://tenant-{t + 1}.atlassian.net",
                            "projects": [{"id": str(10000 + p), "key": key, "name": key, "issue_types": ["Bug", "Task"]}
                                         for p, key in enumerate(PROJECTS)]} for t in range(args.orgs)]}
        (workdir / "world.json").write_text(json.dumps(world))
        sandbox_log = workdir / "sandbox.log"
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "jira_sandbox", "serve", "--host", "127.0.0.1", "--port", str(port), "--auto-approve",
             "--index-delay", "1.0", "--config", str(workdir / "world.json"),
             "--deliver-to", f"http://127.0.0.1:{state['port']}"],
            cwd=REPO_ROOT, env={**run.env, "ATLASSIAN_CLIENT_SECRET": CLIENT_SECRET},
            stdout=open(sandbox_log, "wb"), stderr=subprocess.STDOUT)
        processes.append(sandbox)

        def sandbox_up() -> bool:
            try:
                run.sandbox("GET", "clock")
                return True
            except Exception:
                return False

        wait_until("the sandbox", sandbox_up, 60, 0.2)
        conformance_on = run.sandbox("GET", "conformance")["enabled"]
        run.phase(f"sandbox up (conformance checking {'on' if conformance_on else 'OFF'}); building the world")
        setup = run.child("setup", "--arg", str(args.orgs), "--arg", str(args.sites))
        tenants = setup["tenants"]
        run.phase(f"{len(tenants)} organizations connected over OAuth, {args.sites} sites each, rules saved, "
                  "webhooks registered")

        injector = Injector(run, args.fault_share, args.delivery_share, [t["cloud_id"] for t in tenants], args.seed)
        injector.start()
        kills: list[dict[str, Any]] = []

        def killer() -> None:
            for round_no in range(2):
                for name in ("consumer-1", "consumer-2"):
                    time.sleep(12)
                    pid = state["pids"].get(name)
                    if pid is None:
                        continue
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills.append({"process": name, "pid": pid, "at": time.monotonic() - run.started})
                        print(f"  SIGKILL {name} (pid {pid})", flush=True)
                    except ProcessLookupError:
                        pass
                    wait_until(f"{name} restarted", lambda: state["pids"].get(name) != pid, 30, 0.2)

        kill_thread = threading.Thread(target=killer, daemon=True)
        kill_thread.start()
        scan_sites = [s for t in tenants for s in t["sites"]]
        scans = run.child("scan", "--arg", json.dumps(scan_sites), "--arg", str(args.violations), "--arg", "{}")
        run.phase(f"{len(scans['scans'])} scans completed (auto-push on for 2 sites of each organization); "
                  "faults on; consumers being killed")
        time.sleep(5)
        rules = run.child("rules", "--arg", json.dumps(tenants))
        run.phase(f"excluded sites given an OPS rule under faults ({rules['rules_failed']} registration(s) failed "
                  "at once, left to webhook-heal)")

        def pushes_done() -> bool:
            jobs = scalar(args.db, "select count(*) from jira_pushjob where status in ('queued', 'running')")
            followups = scalar(args.db, "select count(*) from jira_scanfollowup where status <> 'done'")
            return jobs == 0 and followups == 0 and not kill_thread.is_alive()

        wait_until("auto-push jobs", pushes_done, args.budget * 0.45, 2)
        pushed = scalar(args.db, "select count(*) from jira_jiralink where status = 'linked'")
        run.phase(f"auto-push jobs finished: {pushed} links")

        # People in Jira: Done (kept), Done and back, Done then found again by a re-scan (regressions).
        rng = random.Random(args.seed)
        with _pg(args.db) as conn:
            rows = conn.execute(
                "select l.violation_id, l.issue_key, l.cloud_id, v.site_id, v.rule_id from jira_jiralink l "
                "join monitoring_violation v on v.id = l.violation_id where l.status = 'linked' "
                "order by l.violation_id").fetchall()
        first_sites = {t["sites"][0] for t in tenants}
        moved: dict[str, list[tuple]] = {"done": [], "back": [], "regression": []}
        per_site = max(1, args.violations // 25)
        for t in tenants:
            mine = [r for r in rows if r[2] == t["cloud_id"]]
            on_first = [r for r in mine if r[3] in first_sites]
            rest = [r for r in mine if r[3] not in first_sites]
            rng.shuffle(on_first)
            rng.shuffle(rest)
            moved["regression"] += on_first[:per_site]
            moved["done"] += on_first[per_site:2 * per_site] + rest[:per_site]
            moved["back"] += on_first[2 * per_site:3 * per_site]
        done_at: dict[int, float] = {}
        for kind in ("done", "regression", "back"):
            for violation_id, key, cloud, _site, _rule in moved[kind]:
                run.sandbox("POST", f"sites/{cloud}/issues/{key}", {"action": "transition", "status": "Done"})
                done_at[violation_id] = time.time()
        time.sleep(3)
        for violation_id, key, cloud, _site, _rule in moved["back"]:
            run.sandbox("POST", f"sites/{cloud}/issues/{key}", {"action": "transition", "status": "To Do"})
        run.phase(f"people moved {len(done_at)} issues to Done ({len(moved['back'])} of them back to To Do)")

        def inbound_quiet() -> bool:
            pending = run.sandbox("POST", "deliver")["pending"]
            waiting = scalar(args.db, "select count(*) from jira_inboundevent where outcome = 'received'")
            return pending == 0 and waiting == 0

        wait_until("webhook deliveries", inbound_quiet, 60, 1)
        reconcile_1 = run.operator("allyproof_jira_run", "reconcile")
        reconciled_at = time.time()
        after_one = run.child("census")  # faults still on: the database only
        run.phase(f"reconciliation run by the operator command: {reconcile_1!r}")

        # The re-scan: the Done-and-kept violations are gone from the site, the rest are found again,
        # so the regressions (Jira-resolved, still Done in Jira) are reopened by the scan.
        omit: dict[str, list[str]] = {}
        for r in moved["done"]:
            if r[3] in first_sites:
                omit.setdefault(str(r[3]), []).append(r[4])
        rescan = run.child("scan", "--arg", json.dumps(sorted(first_sites)), "--arg", str(args.violations),
                           "--arg", json.dumps(omit))
        run.phase(f"re-scan of {len(rescan['scans'])} sites: {sum(s['reopened'] for s in rescan['scans'])} reopened")
        wait_until("scan follow-ups", lambda: scalar(
            args.db, "select count(*) from jira_scanfollowup where status <> 'done'") == 0, 120, 2)
        wait_until("webhook deliveries", inbound_quiet, 60, 1)
        reconcile_2 = run.operator("allyproof_jira_run", "reconcile")
        run.phase(f"follow-ups done; reconciliation again: {reconcile_2!r}")

        injector.halt()
        run.phase("faults off; draining (converge, webhook-heal, inbound)")
        heal = run.operator("allyproof_jira_run", "webhook-heal")

        def settled() -> bool:
            unverified = scalar(args.db, "select count(*) from jira_jiralink where verify_at is not null")
            creating = scalar(args.db, "select count(*) from jira_jiralink where status = 'creating'")
            jobs = scalar(args.db, "select count(*) from jira_pushjob where status in ('queued', 'running')")
            return unverified == 0 and creating == 0 and jobs == 0 and inbound_quiet()

        left = max(30.0, args.budget - (time.monotonic() - run.started) - 60)
        wait_until("convergence", settled, left, 3)
        converge = run.operator("allyproof_jira_run", "converge")
        final = run.child("census", "--arg", "jira")
        issues = {t["cloud_id"]: run.sandbox("GET", f"sites/{t['cloud_id']}/issues") for t in tenants}
        conformance = run.sandbox("GET", "conformance")
        deliveries = run.sandbox("GET", "deliveries")
        requests_total = injector.calls
        run.phase(f"settled; operator webhook-heal {heal!r}, converge {converge!r}")
    finally:
        if injector is not None and injector.is_alive():
            injector.stop.set()
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL) if process is serve else process.kill()
    load1 = os.getloadavg()
    return report(run, args, tenants, moved, done_at, reconciled_at, after_one, final, issues, conformance,
                  deliveries, requests_total, injector, kills, state, load0, load1, workdir)


def report(run, args, tenants, moved, done_at, reconciled_at, after_one, final, issues, conformance, deliveries,
           requests_total, injector, kills, state, load0, load1, workdir) -> int:
    checks: list[tuple[str, bool, str]] = []
    first = {t["sites"][0] for t in tenants}
    second = {t["sites"][1] for t in tenants}
    by_id = {v["id"]: v for v in final["violations"]}
    eligible = [v for v in final["violations"] if v["site"] in first
                or (v["site"] in second and v["impact"] in ("critical", "serious"))]
    ineligible = [v for v in final["violations"] if v not in eligible]
    repaired = set(final["repaired"])
    per_label: dict[str, list[str]] = {}
    for found in issues.values():
        for issue in found:
            for label in issue["labels"]:
                if label.startswith("allyproof-") and label != "allyproof":
                    per_label.setdefault(label, []).append(issue["key"])
    wrong, dups_total = [], 0
    for v in eligible:
        labels = {link["label"] for link in v["links"]}
        keys = [k for label in labels for k in per_label.get(label, [])]
        live = [k for k in keys if k not in repaired]
        dups_total += len(keys) - 1 if keys else 0
        if len(live) != 1 or len(labels) != 1:
            wrong.append((v["id"], keys))
    stray = [v["id"] for v in ineligible if v["links"]]
    orphans = [label for label in per_label if not any(label in {link["label"] for link in v["links"]}
                                                        for v in eligible)]
    checks.append(("one Jira issue per eligible violation, none for excluded or below-threshold", not wrong
                   and not stray and not orphans,
                   f"{len(eligible)} eligible, {len(ineligible)} not; {sum(len(k) for k in per_label.values())} "
                   f"AllyProof issues in Jira, {dups_total} duplicate(s) created, {len(repaired)} repaired; wrong "
                   f"{wrong[:5]}{'…' if len(wrong) > 5 else ''}, linked though ineligible {stray[:5]}, "
                   f"issues of no eligible violation {orphans[:5]}"))
    after = {v["id"]: v for v in after_one["violations"]}
    kept = [r[0] for r in moved["done"] + moved["regression"]]
    late = [i for i in kept if after[i]["status"] != "resolved"]
    latency = [after[i]["resolved_at"] - done_at[i] for i in kept if after[i]["resolved_at"]]
    by_webhook = sum(1 for i in kept if after[i]["resolved_at"] and after[i]["resolved_at"] < reconciled_at - 0.5)
    checks.append(("every issue moved to Done resolved within one reconciliation period", not late,
                   f"{len(kept)} moved to Done and kept there: {len(kept) - len(late)} resolved after one "
                   f"reconciliation run ({by_webhook} before it ended), not resolved {late[:5]}; "
                   f"Done→resolved max {max(latency, default=0):.1f} s"))
    reopened = [r[0] for r in moved["regression"] if by_id[r[0]]["reopened_at"]]
    never = [r[0] for r in moved["regression"] if not by_id[r[0]]["reopened_at"]]  # not resolved at the re-scan
    re_resolved = [i for i in reopened if by_id[i]["status"] != "open"]
    back_resolved = [r[0] for r in moved["back"] if by_id[r[0]]["status"] != "open"]
    still_done = [r[0] for r in moved["done"] if by_id[r[0]]["status"] != "resolved"]
    checks.append(("no regression re-resolved (and Done-and-back open, Done-and-kept resolved)",
                   not re_resolved and not back_resolved and not still_done,
                   f"{len(moved['regression'])} regressions, {len(reopened)} reopened by the re-scan: not open {re_resolved[:5]} "
                   f"(not resolved by the re-scan's time, so not a regression: {never[:5]}); {len(moved['back'])} back to "
                   f"To Do: not open {back_resolved[:5]}; Done-and-kept not resolved {still_done[:5]}"))
    mismatched = [c["id"] for c in final["connections"]
                  if c["stored"] != c["desired"] or c["error"] or sorted(map(str, c["ids"])) != sorted(c["listed"])
                  or any(q != c["desired"] for q in c["listed"].values()) or not c["ids"]]
    checks.append(("every connection's registration matches its rules", not mismatched,
                   f"{len(final['connections'])} connections; mismatched {mismatched}"))
    checks.append(("zero conformance failures", conformance["enabled"] and not conformance["failures"],
                   f"checking {'on' if conformance['enabled'] else 'OFF'}; {len(conformance['failures'])} failure(s) "
                   f"{[f.get('operation', f) for f in conformance['failures'][:3]]}"))
    secrets = {s for s in final["secrets"] if s} | {CLIENT_SECRET, SECRET_KEY, ENCRYPTION_KEY.split(":", 1)[1],
                                                       METRICS_TOKEN}
    issued = re.compile(r"sbx-(?:code|at|rt)-[A-Za-z0-9_-]{8,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
    leaks: list[str] = []
    lines = 0
    for log in run.logs:
        for line in log.read_text(errors="replace").splitlines():
            lines += 1
            if issued.search(line) or any(s in line for s in secrets):
                leaks.append(f"{log.name}: {line[:160]}")
    checks.append(("no token, secret or OAuth code in any log", not leaks,
                   f"{lines} lines in {len(run.logs)} logs (serve: gunicorn, consumers; children; operator "
                   f"commands) against {len(secrets)} known secrets and every sandbox-issued code/token/JWT; "
                   f"leaks {leaks[:3]}"))
    elapsed = time.monotonic() - run.started
    checks.append(("bounded to 15 minutes", elapsed <= 900, f"{elapsed:.0f} s"))

    attempts = len(deliveries)
    print(f"\nfault soak: {args.orgs} organizations × {args.sites} sites × {args.violations} violations; "
          f"serve: gunicorn 2 workers, 2 consumers × 4 threads on Redis, PostgreSQL; {os.cpu_count()} CPUs")
    print(f"Jira API calls {requests_total}, faults injected {injector.faults_added} "
          f"({injector.faults_added / max(1, requests_total):.1%}); search lag on {injector.lags} site-periods")
    print(f"webhook delivery attempts {attempts}, delivery faults {injector.delivery_faults} "
          f"({injector.delivery_faults / max(1, attempts):.1%})")
    print("faults by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(injector.by_kind.items())))
    print(f"consumer SIGKILLs {len(kills)} ({', '.join(k['process'] for k in kills)}), restarts seen {state['restarts']}")
    print(f"load average before {load0[0]:.2f}/{load0[1]:.2f}, after {load1[0]:.2f}/{load1[1]:.2f} (1/5 min)")
    print("phases: " + "; ".join(f"{name.split(' (')[0].split(':')[0]} at {at:.0f} s" for name, at in run.phases))
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {detail}")
    print(f"logs: {workdir}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
