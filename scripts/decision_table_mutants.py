"""Mutants of the sync decision's table (sync_decision.RULES). mutmut mutates function bodies only, so
the table's module-level lambdas, which hold the whole decision, escape it; these are applied by hand,
one at a time, and each must be killed by the table's tests. Restores the file.
Run: .venv/bin/python scripts/decision_table_mutants.py"""
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
PATH = ROOT / "allyproof/integrations/jira/inbound/sync_decision.py"
TESTS = ["tests/jira/test_sync_decision.py"]
MUTANTS = {  # name: (text, replacement)
    "no time counts as a time": ("lambda f: f.changed_at is None,", "lambda f: f.changed_at is not None,"),
    "stale includes the same change": ("f.changed_at < f.known_changed_at", "f.changed_at <= f.known_changed_at"),
    "stale turned around": ("f.changed_at < f.known_changed_at", "f.changed_at > f.known_changed_at"),
    "staleness never checked": ("f.known_changed_at is not None and f.changed_at", "False and f.changed_at"),
    "a Done at the reopen counts": ("f.changed_at <= f.opened_at", "f.changed_at < f.opened_at"),
    "the reopen guard ignored": ("f.category == DONE and f.changed_at <= f.opened_at", "False"),
    "the reopen guard for every category": ("f.category == DONE and f.changed_at <= f.opened_at",
                                            "f.changed_at <= f.opened_at"),
    "resolve in any category": ("f.category == DONE and f.violation_open", "f.violation_open"),
    "resolve a resolved violation": ("f.category == DONE and f.violation_open", "f.category == DONE"),
    "take back a person's resolution": ("f.resolved_by_jira and not f.violation_open", "not f.violation_open"),
    # Equivalent, so not run: ("f.resolved_by_jira and not f.violation_open" -> "f.resolved_by_jira"), since
    # sync_apply._facts only sets resolved_by_jira for a resolved violation.
    "the status name instead of the category key": ('DONE = "done"', 'DONE = "Done"'),
    "never resolve": ('"resolve", "entered_done"', '"none", "entered_done"'),
    "never reopen": ('"reopen", "left_done"', '"none", "left_done"'),
}
source = PATH.read_text()
survivors = 0
for name, (old, new) in MUTANTS.items():
    assert source.count(old) >= 1, name
    PATH.write_text(source.replace(old, new, 1))
    try:
        run = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pytest", *TESTS, "-x", "-q", "-p", "no:randomly"],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        PATH.write_text(source)
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    survivors += run.returncode == 0
    print(("KILLED " if run.returncode else "SURVIVED ") + name + (" by " + failed[0][7:] if failed else ""), flush=True)
print(f"{len(MUTANTS) - survivors} killed, {survivors} survived")
