"""Benchmark: ingest a generated N-page axe-core results file (default 5,000 pages).

    .venv/bin/python bench/ingest.py                      # 5,000 pages, throwaway SQLite
    .venv/bin/python bench/ingest.py --pages 500          # a quicker run
    .venv/bin/python bench/ingest.py --db postgres://postgres@127.0.0.1:5432/bench_ingest

Three processes, so the memory figures belong to ingestion alone:
  1. this one (small: no Django) makes a temporary directory and coordinates;
  2. a child writes the results file with bench/_axe_generator.py (20-40 failing rules a page,
     iframe and shadow-DOM targets, real passes/inapplicable to stream past);
  3. a fresh child sets Django up against a throwaway database (ALLYPROOF_ENV=test,
     ALLYPROOF_DATA_DIR=<temporary directory>, SQLite there unless --db is given), migrates it,
     creates an organization and a site through the services, records its RSS (the baseline),
     then times `scan_ingest(site=..., stream=open(file, "rb"), source="command")` twice on the
     same site: the first scan (every violation new) and a re-scan (every violation updated).

Peak RSS is the child's VmHWM from /proc/self/status; `ru_maxrss` is printed beside it (on Linux a
child's ru_maxrss can include its parent's RSS at fork time, VmHWM cannot). Before the re-scan the
peak is reset (`5` into /proc/self/clear_refs), so the re-scan's peak is its own.

--db uses the given PostgreSQL database as it is: point it at a scratch database. It is migrated,
and every run adds one organization, one site, two scans and the violations.

The test suite asserts behaviour; this prints figures (see docs/benchmarks.md) and asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

TARGET_PAGES_PER_SECOND = 500
TARGET_PEAK_RSS_MB = 300


# --- the measuring child ------------------------------------------------------------------------

def _proc_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in KiB."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")  # resets VmHWM to the current RSS (Linux 4.0+)
        return True
    except OSError:
        return False


def _child(results_file: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from allyproof.accounts.services import organization_create, user_get_or_create
    from allyproof.monitoring import axe
    from allyproof.monitoring.models import Scan
    from allyproof.monitoring.services import scan_ingest, site_create

    stamp = time.strftime("%Y%m%d-%H%M%S")
    owner = user_get_or_create(email=f"bench-{stamp}-{os.getpid()}@bench.allyproof.test")
    organization = organization_create(name=f"Bench Agency {stamp}", owner=owner)
    site = site_create(organization=organization, name="Northwind Outdoor", base_url="https://www.northwind-outdoor.example/")

    # Time the parse separately from the writes, without touching the service: wrap the module
    # function the service calls.
    real_aggregate = axe.aggregate
    parse: dict[str, Any] = {}

    def timed_aggregate(stream):
        started = time.perf_counter()
        result = real_aggregate(stream)
        parse["seconds"] = time.perf_counter() - started
        parse["page_rules"] = sum(len(rule.pages) for rule in result.rules.values())
        parse["elements"] = sum(rule.element_count for rule in result.rules.values())
        parse["after_parse"] = _proc_status()
        return result

    axe.aggregate = timed_aggregate

    gc.collect()
    baseline = _proc_status()
    runs = []
    for label in ("first scan", "re-scan"):
        peak_reset = _reset_peak() if runs else True
        before = _proc_status()
        load_before = os.getloadavg()[0]
        cpu_started, started = time.process_time(), time.perf_counter()
        with open(results_file, "rb") as stream:
            scan = scan_ingest(site=site, stream=stream, source=Scan.Source.COMMAND)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        after = _proc_status()
        runs.append({
            "label": label,
            "wall_s": wall,
            "cpu_s": cpu,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "parse_s": parse["seconds"],
            "write_s": wall - parse["seconds"],
            "pages": scan.pages_scanned,
            "pages_per_s": scan.pages_scanned / wall,
            "rules": scan.violations_found,
            "page_rules": parse["page_rules"],
            "elements": parse["elements"],
            "new": scan.new_violations,
            "updated": scan.violations_found - scan.new_violations,
            "rss_before_kib": before["VmRSS"],
            "rss_after_parse_kib": parse["after_parse"]["VmRSS"],
            "rss_after_kib": after["VmRSS"],
            "peak_kib": after["VmHWM"],
            "peak_reset": peak_reset,
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        })
    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if vendor == "sqlite" else "show server_version")
        db_version = cursor.fetchone()[0]
    return {"baseline_kib": baseline["VmRSS"], "baseline_peak_kib": baseline["VmHWM"], "runs": runs,
            "database": f"{'SQLite' if vendor == 'sqlite' else 'PostgreSQL'} {db_version}",
            "python": sys.version.split()[0], "msgspec": __import__("msgspec").__version__}


# --- the coordinating parent ---------------------------------------------------------------------

def _mib(kib: int) -> float:
    return kib / 1024


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _report(result: dict[str, Any], generated: dict[str, Any], db_label: str) -> str:
    lines = [
        f"input     {generated['pages']} pages, {generated['bytes'] / 1e6:.0f} MB "
        f"({generated['bytes'] / generated['pages'] / 1e3:.0f} KB a page), "
        f"{generated['failing_rules'] / generated['pages']:.1f} failing rules a page",
        f"database  {result['database']} ({db_label})",
        f"python    {result['python']}, msgspec {result['msgspec']}",
        f"baseline  RSS after Django setup, migrate and fixtures: {_mib(result['baseline_kib']):.0f} MiB",
        "",
        f"{'run':<11} {'wall s':>7} {'cpu s':>6} {'parse s':>8} {'write s':>8} {'pages/s':>8} {'rules':>6} "
        f"{'page-rules':>10} {'new':>5} {'updated':>7} {'RSS before':>10} {'after parse':>11} {'peak RSS':>9} "
        f"{'+baseline':>9} {'ru_maxrss':>9}",
    ]
    for run in result["runs"]:
        lines.append(
            f"{run['label']:<11} {run['wall_s']:>7.2f} {run['cpu_s']:>6.2f} {run['parse_s']:>8.2f} {run['write_s']:>8.2f} "
            f"{run['pages_per_s']:>8.0f} {run['rules']:>6} {run['page_rules']:>10} {run['new']:>5} "
            f"{run['updated']:>7} {_mib(run['rss_before_kib']):>6.0f} MiB {_mib(run['rss_after_parse_kib']):>7.0f} MiB "
            f"{_mib(run['peak_kib']):>5.0f} MiB {_mib(run['peak_kib'] - result['baseline_kib']):>5.0f} MiB "
            f"{_mib(run['ru_maxrss_kib']):>5.0f} MiB"
        )
    lines += ["", f"targets   >= {TARGET_PAGES_PER_SECOND} pages/s, <= {TARGET_PEAK_RSS_MB} MB peak RSS"]
    for run in result["runs"]:
        peak_mb = run["peak_kib"] * 1024 / 1e6
        lines.append(
            f"  {run['label']:<11} {run['pages_per_s']:>6.0f} pages/s {_verdict(run['pages_per_s'] >= TARGET_PAGES_PER_SECOND)}"
            f"   {peak_mb:>5.0f} MB peak {_verdict(peak_mb <= TARGET_PEAK_RSS_MB)}"
        )
    lines += [
        "",
        "rules = distinct failing rules aggregated (violations written); page-rules = failing (page, rule) "
        "results read;",
        "peak RSS = VmHWM of the ingesting process (the re-scan's is reset first); +baseline = peak minus the "
        "RSS after setup;",
        "parse = axe.aggregate (read + validate + aggregate); write = the rest of scan_ingest (one transaction);",
        "cpu = this process's CPU time: well below wall means it waited for the database or a busy machine.",
        "load average (1 min) before/after: " + ", ".join(
            f"{run['label']} {run['load_before']:.2f}/{run['load_after']:.2f}" for run in result["runs"]
        ) + f" on {os.cpu_count()} CPUs",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark scan_ingest on a generated axe-core results file.")
    parser.add_argument("--pages", type=int, default=5000, help="pages in the generated file (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--db", help="postgres://… URL of a scratch database (default: throwaway SQLite)")
    parser.add_argument("--file", type=Path, help="ingest this results file instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (file and SQLite database)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: the measuring process
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(_child(args.child)))
        return 0

    if args.db and not args.db.startswith(("postgres://", "postgresql://")):
        parser.error("--db takes a postgres:// URL (SQLite is the default)")
    workdir = Path(tempfile.mkdtemp(prefix="allyproof-bench-ingest-"))
    try:
        if args.file:
            results_file = args.file.resolve()
            generated = {"pages": args.pages, "bytes": results_file.stat().st_size, "failing_rules": float("nan")}
        else:
            results_file = workdir / f"axe-{args.pages}-pages.json"
            print(f"generating {args.pages} pages (seed {args.seed}) …", flush=True)
            out = subprocess.run(
                [sys.executable, str(REPO_ROOT / "bench" / "_axe_generator.py"), "--pages", str(args.pages),
                 "--seed", str(args.seed), "--out", str(results_file), "--json"],
                check=True, stdout=subprocess.PIPE, text=True,
            ).stdout
            generated = json.loads(out.strip().splitlines()[-1])
            print(f"  {generated['bytes'] / 1e6:.0f} MB written in {generated['seconds']} s", flush=True)

        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(workdir / "data"),
                   DJANGO_SETTINGS_MODULE="allyproof.settings", PYTHONPATH=str(REPO_ROOT))
        if args.db:
            env["DATABASE_URL"] = args.db
        (workdir / "data").mkdir()  # settings create it only for SQLite; the job queue file lives there too
        db_label = args.db.rsplit("@", 1)[-1] if args.db else "throwaway file in the temporary directory"
        print(f"ingesting in a fresh process ({'PostgreSQL' if args.db else 'SQLite'}) …", flush=True)
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(results_file)],
            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT,
        )
        if child.returncode:
            print(f"the ingesting process failed (exit {child.returncode}); its error is above", file=sys.stderr)
            return 1
        out = child.stdout
        result = json.loads(out.strip().splitlines()[-1])
        if args.file:
            generated["pages"] = result["runs"][0]["pages"]
            generated["failing_rules"] = result["runs"][0]["page_rules"]
        print()
        print(_report(result, generated, db_label))
        if args.json:
            print(json.dumps({"generated": generated, **result}))
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
