"""Benchmark: verified Jira webhook deliveries per second and their latency, through a real server.

    .venv/bin/python bench/webhooks.py                     # throwaway SQLite
    .venv/bin/python bench/webhooks.py --count 3000 --concurrency 4 --seconds 60
    .venv/bin/python bench/webhooks.py --db postgres://postgres@127.0.0.1:5432/bench_webhooks

Four processes:
  1. this one (no Django) makes a temporary directory and coordinates;
  2. a setup child migrates a throwaway database and builds the world: "Demo Agency" connected to the
     sandbox's Demo Agency site (webhook id 1) with 2,000 violations linked to ACME-1..ACME-2000,
     "Other Agency" connected to the Other Agency site (webhook id 1 there too: ids are per site) with
     500 linked violations, and 30 more tenants on other Jira sites with 100 links each, so the
     connection and link lookups search real tables. The delivery bodies come from the Jira sandbox
     itself (in-process, jira_sandbox.issues.IssueService.webhook_body): the issues are created and
     moved In Progress / edited / moved Done there and each jira:issue_updated body is captured;
  3. gunicorn serves allyproof.wsgi with 2 sync workers on 127.0.0.1 (ALLYPROOF_ENV=test, same data
     directory and database);
  4. a load generator (httpx, one client per thread, N threads) POSTs to each connection's /integrations/jira/webhook/<token>/
     with the headers the sandbox sends (Authorization: Bearer <HS256 JWT with the client secret,
     claims iss/iat/exp/context.cloudId as jira_sandbox.webhooks.Deliverer.jwt>,
     X-Atlassian-Webhook-Identifier: a fresh token_hex(16), X-Atlassian-Webhook-Flow: Primary).
     Each delivery has its own identifier and its own timestamp, so none is deduplicated.

The mix of verified deliveries: 10 % move a linked issue into Done (the violation is resolved: the
one write path), 70 % are other updates of linked issues (In Progress, summary edits: looked up,
recorded, ignored), 20 % concern issues AllyProof did not create (looked up, recorded, ignored);
80 % come from Demo Agency's site, 20 % from Other Agency's. Phases, each bounded by --count and
--seconds: a warm-up, verified deliveries one at a time, verified at --concurrency, and forged ones
(the same requests signed with a wrong secret: 401 before the body is read) at --concurrency.
Latency is measured by the sender (connect, request, full response). The sender shares the 2 CPUs
with the server, so the figures are a floor for the server alone.

Targets (proposed, DESIGN §12 gives none): verified ≥ 100 deliveries/s with p99 ≤ 200 ms at 4
concurrent senders; forged deliveries rejected at least as fast as verified ones are accepted.
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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

URL_PATH = "/integrations/jira/webhook/{token}/"  # each connection has its own callback URL
CLIENT_ID, CLIENT_SECRET = "allyproof-sandbox", "sandbox-client-secret"
DEMO_LINKED, OTHER_LINKED, UNLINKED, FILLER_TENANTS, FILLER_LINKS = 2000, 500, 300, 30, 100
REOPENED = 200  # Demo issues whose bodies include Done, To Do, Done again (bench/webhook_intake.py)
TARGET_RATE, TARGET_P99_MS = 100, 200


# --- 2. the setup child (Django) ---------------------------------------------------------------------

def _setup(workdir: Path) -> dict[str, Any]:
    import django

    django.setup()
    import datetime as dt
    import hashlib

    from django.core.management import call_command

    from allyproof.core import clock
    from allyproof.integrations.jira.models import JiraConnection, JiraLink
    from allyproof.monitoring.models import Violation
    from jira_sandbox import DEMO_AGENCY_ID, OTHER_AGENCY_ID, Sandbox, SandboxConfig
    from tests import factories
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from _axe_generator import load_pool

    call_command("migrate", verbosity=0)
    rules = list(load_pool()["failing"].values())
    now = clock.now()

    sb = Sandbox(SandboxConfig.default())
    captured: list[dict[str, Any]] = []
    sb.jira.emit = lambda event: captured.append(sb.jira.webhook_body(event)) if event.name == "jira:issue_updated" else None

    def tenant(name: str, cloud_id: str, site_name: str, site_url: str, hook_ids: list[int], n_links: int,
               project: str, issues: list[dict[str, Any]] | None):
        org = factories.organization(name)
        admin = factories.member(org, f"admin@{name.lower().replace(' ', '-')}.test", "admin")
        host = name.lower().replace(" ", "-")
        site = factories.site(org, f"{name} client", f"https://www.{host}-client.example/")
        violations = []
        for i in range(n_links):
            rule = rules[i % len(rules)]
            meta = rule["meta"]
            node = rule["templates"][0]
            violations.append(Violation(
                site=site, rule_id=f"{meta['id']}-{i // len(rules)}" if i >= len(rules) else meta["id"],
                impact=rule["impact"], description=meta["description"], help=meta["help"], help_url=meta["helpUrl"],
                tags=meta["tags"], wcag_tags=[t for t in meta["tags"] if t.startswith("wcag")], page_count=20,
                element_count=60, pages=[f"https://www.{host}-client.example/p/{p}/" for p in range(20)],
                samples=[{"target": node["target"], "html": node["html"], "failure_summary": node["failureSummary"]}] * 3,
                first_detected_at=now, last_detected_at=now))
        violations = Violation.objects.bulk_create(violations)
        connection = JiraConnection.objects.create(
            organization=org, status=JiraConnection.Status.ACTIVE, cloud_id=cloud_id, site_name=site_name,
            site_url=site_url, scopes="read:jira-work write:jira-work manage:jira-webhook offline_access",
            connected_by=admin, connected_at=now, webhook_ids=hook_ids, webhook_jql=f"project in ({project})",
            webhook_expires_at=now + dt.timedelta(days=30))
        links = []
        for i, violation in enumerate(violations):
            issue = issues[i] if issues else {"id": str(10000 + i), "key": f"{project}-{i + 1}"}
            key = hashlib.sha256(f"{org.pk}:{cloud_id}:{violation.pk}".encode()).hexdigest()
            links.append(JiraLink(
                organization=org, violation=violation, cloud_id=cloud_id, dedupe_key=key, status=JiraLink.Status.LINKED,
                project_key=project, issue_key=issue["key"], issue_id=issue["id"],
                issue_url=f"{site_url}/browse/{issue['key']}", created_at=now, linked_at=now))
        JiraLink.objects.bulk_create(links)
        return connection

    # Issues in the sandbox: linked ones (moved In Progress, edited, moved Done) and foreign ones.
    templates: dict[str, list[Any]] = {"done": [], "linked": [], "foreign": [], "sequences": []}
    site_issues: dict[str, list[dict[str, Any]]] = {}
    for cloud_id, project, n_linked in ((DEMO_AGENCY_ID, "ACME", DEMO_LINKED), (OTHER_AGENCY_ID, "OPS", OTHER_LINKED)):
        made = [sb.create_issue(cloud_id, project, f"Accessibility: violation {i}", "Bug")
                for i in range(n_linked + UNLINKED)]
        site_issues[cloud_id] = made[:n_linked]
        for n, issue in enumerate(made):
            captured.clear()
            # A second between changes, as a person takes: an In Progress and a Done of one issue in the
            # same millisecond would make the In Progress, delivered after the Done, look like a reopen.
            sb.transition_issue(cloud_id, issue["key"], "In Progress")
            sb.clock.advance(1)
            sb.edit_issue(cloud_id, issue["key"], summary=f"Accessibility: violation {n} (edited)")
            sb.clock.advance(1)
            sb.transition_issue(cloud_id, issue["key"], "Done")
            progress, edit, done = captured
            if n < n_linked and cloud_id == DEMO_AGENCY_ID and n < REOPENED:
                # Done, reopened by a person (To Do), Done again: three state changes in this order only.
                sb.clock.advance(1)
                sb.transition_issue(cloud_id, issue["key"], "To Do")
                sb.clock.advance(1)
                sb.transition_issue(cloud_id, issue["key"], "Done")
                templates["linked"] += [progress, edit]
                templates["sequences"].append([done, *captured[3:]])
            elif n < n_linked:
                templates["linked"] += [progress, edit]
                templates["done"].append(done)
            else:
                templates["foreign"] += [progress, edit, done]
    demo = tenant("Demo Agency", DEMO_AGENCY_ID, "Demo Agency", sb.site_url(DEMO_AGENCY_ID), [1], DEMO_LINKED,
                  "ACME", site_issues[DEMO_AGENCY_ID])
    other = tenant("Other Agency", OTHER_AGENCY_ID, "Other Agency", sb.site_url(OTHER_AGENCY_ID), [1], OTHER_LINKED,
                   "OPS", site_issues[OTHER_AGENCY_ID])
    for t in range(FILLER_TENANTS):
        tenant(f"Tenant {t}", f"00000000-0000-4000-8000-{t:012d}", f"Tenant {t}",
               f"https://tenant-{t}.atlassian.net", [1, 2], FILLER_LINKS, "WEB", None)
    # Interleave the two sites 4:1 as the load generator will send them.
    for kind in ("done", "linked", "foreign"):
        demo_t = [b for b in templates[kind] if b["issue"]["self"].startswith(demo.site_url)]
        other_t = [b for b in templates[kind] if b["issue"]["self"].startswith(other.site_url)]
        mixed = []
        while demo_t or other_t:
            mixed += demo_t[:4] + other_t[:1]
            demo_t, other_t = demo_t[4:], other_t[1:]
        templates[kind] = [{**b, "matchedWebhookIds": [1]} for b in mixed]
    templates["sequences"] = [[{**b, "matchedWebhookIds": [1]} for b in seq] for seq in templates["sequences"]]
    path = workdir / "templates.json"
    path.write_text(json.dumps({"templates": templates,
                                "paths": {demo.site_url: URL_PATH.format(token=demo.webhook_token),
                                          other.site_url: URL_PATH.format(token=other.webhook_token)},
                                "cloud_ids": {demo.site_url: demo.cloud_id,
                                                                      other.site_url: other.cloud_id}}))
    return {"connections": JiraConnection.objects.count(), "links": JiraLink.objects.count(),
            "violations": Violation.objects.count(), "templates": {k: len(v) for k, v in templates.items()}}


def _census() -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count

    from allyproof.integrations.jira.models import InboundEvent
    from allyproof.monitoring.models import Violation

    outcomes = dict(InboundEvent.objects.values_list("outcome").annotate(n=Count("pk")).values_list("outcome", "n"))
    details: dict[str, int] = {}
    for detail, n in InboundEvent.objects.values_list("detail").annotate(n=Count("pk")).values_list("detail", "n"):
        label = "resolved by <key>" if detail.startswith("resolved by ") else detail
        details[label] = details.get(label, 0) + n
    resolved = Violation.objects.filter(resolved_source__startswith="jira:").count()
    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if vendor == "sqlite" else "show server_version")
        version = cursor.fetchone()[0]
    return {"outcomes": outcomes, "details": details, "resolved_by_jira": resolved,
            "database": f"{'SQLite' if vendor == 'sqlite' else 'PostgreSQL'} {version}"}


# --- 4. the load generator (no Django) ------------------------------------------------------------------

def _sign(secret: str, cloud_id: str) -> str:
    """As jira_sandbox.webhooks.Deliverer.jwt: HS256 over iss/iat/exp/context.cloudId."""
    import warnings

    import jwt

    now = int(time.time())
    claims = {"iss": CLIENT_ID, "iat": now, "exp": now + 180, "context": {"cloudId": cloud_id}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sandbox's short secret trips PyJWT's key-length warning
        return jwt.encode(claims, secret, algorithm="HS256")


class Deliveries:
    """Distinct deliveries in the 10/70/20 mix; every one gets a fresh identifier and timestamp."""

    def __init__(self, data: dict[str, Any]):
        self.templates, self.cloud_ids, self.paths = data["templates"], data["cloud_ids"], data["paths"]
        self.cursor = {kind: 0 for kind in self.templates}
        self.n = 0
        self.base_ms = int(time.time() * 1000)

    def _next_template(self, kind: str) -> dict[str, Any]:
        items = self.templates[kind]
        if kind == "done" and self.cursor[kind] >= len(items):
            kind, items = "linked", self.templates["linked"]  # every Done used once: fall back
        body = items[self.cursor[kind] % len(items)]
        self.cursor[kind] += 1
        return body

    def build(self, count: int, secret: str) -> list[tuple[bytes, dict[str, str], str]]:
        import secrets

        out = []
        tokens: dict[str, str] = {}
        for _ in range(count):
            slot = self.n % 10
            kind = "done" if slot == 0 else "foreign" if slot >= 8 else "linked"
            body = dict(self._next_template(kind))
            body["timestamp"] = self.base_ms + self.n  # distinct (event, issue, timestamp) for every delivery
            self.n += 1
            site = body["issue"]["self"].split("/rest/", 1)[0]
            cloud_id = self.cloud_ids[site]
            token = tokens.get(cloud_id) or tokens.setdefault(cloud_id, _sign(secret, cloud_id))
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                       "X-Atlassian-Webhook-Identifier": secrets.token_hex(16), "X-Atlassian-Webhook-Flow": "Primary"}
            out.append((json.dumps(body).encode(), headers, self.paths[site]))
        return out


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master and its workers."""
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _fire(base_url: str, requests: list[tuple[bytes, dict[str, str], str]], concurrency: int, seconds: float,
          server_pid: int) -> dict[str, Any]:
    import httpx

    lock = threading.Lock()
    position = iter(range(len(requests)))
    results: list[tuple[float, int]] = []
    deadline = time.perf_counter() + seconds
    local = threading.local()

    def worker() -> None:
        client = local.__dict__.setdefault("client", httpx.Client(base_url=base_url, timeout=30))
        while time.perf_counter() < deadline:
            with lock:
                i = next(position, None)
            if i is None:
                return
            body, headers, url_path = requests[i]
            started = time.perf_counter()
            try:
                status = client.post(url_path, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                results.append((elapsed, status))

    load_before = os.getloadavg()[0]
    server_cpu, sender_cpu = _server_cpu(server_pid), time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    server_cpu, sender_cpu = _server_cpu(server_pid) - server_cpu, time.process_time() - sender_cpu
    times = sorted(t for t, _ in results)

    def pct(p: float) -> float:
        return times[min(len(times) - 1, max(0, int(round(p / 100 * len(times))) - 1))] * 1000

    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"sent": len(results), "wall_s": wall, "rate": len(results) / wall, "p50_ms": pct(50), "p95_ms": pct(95),
            "p99_ms": pct(99), "max_ms": times[-1] * 1000, "mean_ms": statistics.mean(times) * 1000,
            "server_cpu_ms": server_cpu / len(results) * 1000, "sender_cpu_ms": sender_cpu / len(results) * 1000,
            "statuses": statuses, "load_before": load_before, "load_after": os.getloadavg()[0]}


def _load(base_url: str, templates_file: Path, count: int, concurrency: int, seconds: float,
          server_pid: int) -> dict[str, Any]:
    deliveries = Deliveries(json.loads(templates_file.read_text()))
    phases = {}
    for name, n, c, secret in (("warm-up", 100, concurrency, CLIENT_SECRET),
                               ("verified, 1 sender", max(1, count // 6), 1, CLIENT_SECRET),
                               (f"verified, {concurrency} senders", count, concurrency, CLIENT_SECRET),
                               (f"forged, {concurrency} senders", count, concurrency,
                                "not-our-secret-but-long-enough-32-bytes")):
        requests = deliveries.build(n, secret)  # signed and serialised before the clock starts
        phases[name] = {"concurrency": c, **_fire(base_url, requests, c, seconds, server_pid)}
        print(f"  {name}: {phases[name]['sent']} in {phases[name]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    return phases


# --- 1. the coordinating parent --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], env=env, cwd=REPO_ROOT,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _wait_up(url: str, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/login/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not come up")


def _report(setup: dict[str, Any], phases: dict[str, Any], census: dict[str, Any], cmd: str) -> str:
    lines = [
        f"database  {census['database']}; server: gunicorn allyproof.wsgi, 2 sync workers, 127.0.0.1",
        f"world     {setup['connections']} active Jira connections, {setup['links']} linked issues, "
        f"{setup['violations']} violations",
        "",
        f"{'phase':<22} {'sent':>5} {'wall s':>7} {'per s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'2xx':>6} {'401':>6} {'other':>6} {'server CPU':>10} {'sender CPU':>10} {'load avg':>11}",
    ]
    for name, p in phases.items():
        ok = sum(n for s, n in p["statuses"].items() if s.startswith("2"))
        rejected = p["statuses"].get("401", 0)
        lines.append(
            f"{name:<22} {p['sent']:>5} {p['wall_s']:>7.2f} {p['rate']:>7.1f} {p['p50_ms']:>7.1f} {p['p95_ms']:>7.1f} "
            f"{p['p99_ms']:>7.1f} {p['max_ms']:>7.1f} {ok / p['sent']:>6.1%} {rejected / p['sent']:>6.1%} "
            f"{(p['sent'] - ok - rejected):>6} {p['server_cpu_ms']:>7.1f} ms {p['sender_cpu_ms']:>7.1f} ms "
            f"{p['load_before']:>5.2f}/{p['load_after']:<5.2f}")
    verified = next(p for n, p in phases.items() if n.startswith("verified") and p["concurrency"] > 1)
    forged = next(p for n, p in phases.items() if n.startswith("forged"))
    c = verified["concurrency"]
    lines += [
        "",
        f"recorded  outcomes {census['outcomes']}; violations resolved from Jira: {census['resolved_by_jira']}",
        f"          details {census['details']}",
        "",
        f"targets   verified ≥ {TARGET_RATE}/s at {c} senders: {verified['rate']:.0f}/s -> "
        f"{'PASS' if verified['rate'] >= TARGET_RATE else 'MISS'}",
        f"          verified p99 ≤ {TARGET_P99_MS} ms at {c} senders: {verified['p99_ms']:.0f} ms -> "
        f"{'PASS' if verified['p99_ms'] <= TARGET_P99_MS else 'MISS'}",
        f"          forged rejected at least as fast: {forged['rate']:.0f}/s vs {verified['rate']:.0f}/s, "
        f"all 401: {forged['statuses'].get('401', 0) == forged['sent']} -> "
        f"{'PASS' if forged['rate'] >= verified['rate'] and forged['statuses'].get('401', 0) == forged['sent'] else 'MISS'}",
        "          share of 2xx among verified: "
        + ", ".join(f"{n} {sum(v for s, v in p['statuses'].items() if s.startswith('2')) / p['sent']:.1%}"
                    for n, p in phases.items() if not n.startswith("forged")),
        "",
        "latency is the sender's: connect + request + whole response (gunicorn sync workers close each connection);",
        f"the sender runs on the same {os.cpu_count()} CPUs as the server. load avg = 1-minute, before/after the phase.",
        "server CPU = user+system CPU of gunicorn's master and workers per delivery; sender CPU = the load generator's.",
        f"command   {cmd}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="deliveries per concurrent phase (default 3000)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent senders (default 4)")
    parser.add_argument("--seconds", type=float, default=60, help="time bound per phase (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--db", help="postgres://… URL of a scratch database (default: throwaway SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", choices=["setup", "census", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--arg", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "setup":
        print(json.dumps(_setup(Path(args.arg[0]))))
        return 0
    if args.child == "census":
        print(json.dumps(_census()))
        return 0
    if args.child == "load":
        print(json.dumps(_load(args.arg[0], Path(args.arg[1]), args.count, args.concurrency, args.seconds,
                               int(args.arg[2]))))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-webhooks-"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(workdir / "data"), DJANGO_SETTINGS_MODULE="allyproof.settings",
               PYTHONPATH=str(REPO_ROOT), ALLYPROOF_PUBLIC_URL=base_url, ATLASSIAN_CLIENT_ID=CLIENT_ID,
               ATLASSIAN_CLIENT_SECRET=CLIENT_SECRET)
    if args.db:
        env["DATABASE_URL"] = args.db
    (workdir / "data").mkdir()
    server = None
    try:
        print("building the world and the deliveries …", flush=True)
        setup = _child(["--child", "setup", "--arg", str(workdir)], env)
        print(f"  {setup}", flush=True)
        log = open(workdir / "gunicorn.log", "wb")
        server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "allyproof.wsgi", "-w", str(args.workers),
                                   "-k", "sync", "-b", f"127.0.0.1:{port}"],
                                  env=env, cwd=REPO_ROOT, stdout=log, stderr=log, start_new_session=True)
        _wait_up(base_url)
        print(f"gunicorn up on {base_url}; sending …", flush=True)
        phases = _child(["--child", "load", "--count", str(args.count), "--concurrency", str(args.concurrency),
                         "--seconds", str(args.seconds), "--arg", base_url, "--arg", str(workdir / "templates.json"), "--arg", str(server.pid)], env)
        census = _child(["--child", "census"], env)
        cmd = "bench/webhooks.py " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
        print()
        print(_report(setup, phases, census, cmd.strip()))
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
