"""Breaks each promise of the sync-back property test on purpose, one at a time, and runs the test's
bounded CI profile (without shrinking) against the broken code: each break must fail it (and says which check failed).
Restores every file it touches. Run: .venv/bin/python scripts/sync_property_breaks.py [NAME ...]"""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
J = "allyproof/integrations/jira/"
BREAKS = {  # name: [(file, text, replacement), ...]
    "a Done older than the reopen resolves": [(J + "sync_decision.py",
        "(lambda f: f.category == DONE and f.changed_at <= f.opened_at,", "(lambda f: False,")],
    "the dedupe key ignores what changed (a same-millisecond change is dropped)": [(J + "inbound.py",
        'change = f"changelog:{event.changelog_id}" if event.changelog_id else (', 'change = "-" if True else (')],
    "a redelivery under a new identifier is taken again": [(J + "inbound.py",
        "key = dedupe_key(connection, event, link)", "key = dedupe_key(connection, event, link) + identifier")],
    "our comment's echo counts as a status change": [
        (J + "status_sync.py", "    if is_echo(connection, event):", "    if False:"),
        (J + "webhook_payload.py", "status_changed_at=event.time if event.status_changed else None",
         "status_changed_at=event.time")],
    # Not the "detected again" text: that would be caught as a scan commenting twice, not as a loop.
    "reconciliation comments 'still open' on every run (a loop)": [(J + "reconcile.py",
        "                _apply(connection, link, issue, caught)",
        "                _apply(connection, link, issue, caught)\n"
        "                if link.violation.status == 'open' and issue['fields']['status']['statusCategory']['key'] == 'done':\n"
        "                    client.add_comment(link.issue_key, {'type': 'doc', 'version': 1, 'content': [{'type': 'paragraph',\n"
        "                        'content': [{'type': 'text', 'text': 'Still open in AllyProof.'}]}]})")],
    "a lost deletion is never noticed": [
        (J + "reconcile.py", "    except JiraNotFound:\n        link_mark_deleted(link=link)",
         "    except JiraNotFound:\n        return\n        link_mark_deleted(link=link)"),
        (J + "status_sync.py", "    link_mark_deleted(link=link)\n    return Handled(InboundEvent.Outcome.APPLIED",
         "    return Handled(InboundEvent.Outcome.APPLIED")],
    "the daily run never asks about links a person or a scan resolved": [(J + "reconcile.py",
        "    links = _history_links(connection)\n", "    links = []\n")],
    # Both guards: a finished follow-up is not run again, and each (link, scan) comments once. Either
    # alone keeps the promise in these schedules (the per-link guard matters after a crash mid-run).
    "a second run of a scan's follow-up comments again": [(J + "scan_followup.py",
        "        if mark.comment_id or _already_posted(client, link, scan_id):", "        if False:"),
        (J + "scan_followup.py", "if row is None or row.status == ScanFollowUp.Status.DONE:", "if row is None:")],
    "a connection treats every registration on the site as its own": [(J + "webhooks.py",
        'return [hook for hook in client.list_webhooks() if hook.get("url") == url]',
        "return list(client.list_webhooks())")],
}
TEST = ["tests/jira/test_sync_property.py", "-x", "-q", "-rf", "-p", "no:randomly", "-p", "no:logging", "--tb=short"]
chosen = sys.argv[1:] or list(BREAKS)
for name in chosen:
    originals = {}
    for path, old, new in BREAKS[name]:
        f = ROOT / path
        originals.setdefault(f, f.read_text())
        text = f.read_text()
        assert text.count(old) == 1, (name, path, old)
        f.write_text(text.replace(old, new))
    try:
        run = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pytest", *TEST], cwd=ROOT, capture_output=True,
                             text=True, timeout=1800, env={**os.environ, "ALLYPROOF_HYPOTHESIS_PROFILE": "breaks"})
    finally:
        for f, text in originals.items():
            f.write_text(text)
    errors = [line[4:] for line in run.stdout.splitlines() if line.startswith("E   ") and "Error" in line]
    failed = [line[7:].split(" - ")[0].split("::")[-1] for line in run.stdout.splitlines()
              if line.startswith("FAILED ")]
    print(("CAUGHT " if run.returncode else "MISSED ") + name + (f" by {failed[0]}" if failed else "")
          + (": " + errors[0][:200] if errors else ""), flush=True)
