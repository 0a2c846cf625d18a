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
    "a Done older than the reopen resolves": [(J + "inbound/sync_decision.py",
        "(lambda f: f.category == DONE and f.changed_at <= f.opened_at,", "(lambda f: False,")],
    "the dedupe key ignores what changed (a same-millisecond change is dropped)": [(J + "inbound/intake.py",
        'change = f"changelog:{event.changelog_id}" if event.changelog_id else (', 'change = "-" if True else (')],
    "a redelivery under a new identifier is taken again": [(J + "inbound/intake.py",
        "key = dedupe_key(connection, event, link)", "key = dedupe_key(connection, event, link) + identifier")],
    "our comment's echo counts as a status change": [
        (J + "inbound/status_sync.py", "    if is_echo(connection, event):", "    if False:"),
        (J + "inbound/payload.py", "status_changed_at=event.time if event.status_changed else None",
         "status_changed_at=event.time")],
    # Not the "detected again" text: that would be caught as a scan commenting twice, not as a loop.
    "reconciliation comments 'still open' on every run (a loop)": [(J + "inbound/reconcile.py",
        "                _apply(connection, link, issue, caught)",
        "                _apply(connection, link, issue, caught)\n"
        "                if link.violation.status == 'open' and issue['fields']['status']['statusCategory']['key'] == 'done':\n"
        "                    client.add_comment(link.issue_key, {'type': 'doc', 'version': 1, 'content': [{'type': 'paragraph',\n"
        "                        'content': [{'type': 'text', 'text': 'Still open in AllyProof.'}]}]})")],
    "a lost deletion is never noticed": [
        (J + "inbound/reconcile.py", "    except JiraNotFound:\n        link_mark_deleted(link=link)",
         "    except JiraNotFound:\n        return\n        link_mark_deleted(link=link)"),
        (J + "inbound/status_sync.py", "    link_mark_deleted(link=link)\n    return Handled(InboundEvent.Outcome.APPLIED",
         "    return Handled(InboundEvent.Outcome.APPLIED")],
    "the daily run never asks about links a person or a scan resolved": [(J + "inbound/reconcile.py",
        "    links = _history_links(connection)\n", "    links = []\n")],
    # Both guards: a finished follow-up is not run again, and each (link, scan) comments once. Either
    # alone keeps the promise in these schedules (the per-link guard matters after a crash mid-run).
    "a second run of a scan's follow-up comments again": [(J + "outbound/scan_followup.py",
        "        if mark.comment_id or _already_posted(client, link, scan_id):", "        if False:"),
        (J + "outbound/scan_followup.py", "if row is None or row.status == ScanFollowUp.Status.DONE:", "if row is None:")],
    "a connection treats every registration on the site as its own": [(J + "connection/webhooks.py",
        'return [hook for hook in client.list_webhooks() if hook.get("url") == url]',
        "return list(client.list_webhooks())")],
    # Issue 9, case 5: registrations that heal (the fault rules of tests/jira/sync_property_faults.py).
    "nothing retries a refused registration (both periodic jobs skip it)": [
        (J + "connection/webhooks.py", "Q(webhook_retry_at=None) | Q(webhook_retry_at__lte=now))",
         "Q(webhook_retry_at=None) | Q(webhook_retry_at__lte=now)).filter(webhook_error='')"),
        (J + "periodic.py", "due = webhooks.connections_due_for_refresh(clock.now())",
         "due = webhooks.connections_due_for_refresh(clock.now()).filter(webhook_error='')")],
    "a webhook Jira made while we crashed is never deleted": [(J + "connection/webhooks.py",
        '        if stray["id"] not in keep:', "        if False:")],
    # Crashes while applying deliveries.
    "the sweep never gives waiting deliveries a run": [(J + "inbound/apply.py",
        "    if waiting:\n        HUEY.delete(WAKE_FLAG)", "    if False:\n        HUEY.delete(WAKE_FLAG)")],
    "a failed handler's delivery is marked done (its change lost)": [(J + "inbound/apply.py",
        '; tried again at the next run"\n        return None',
        '; tried again at the next run"\n        return Handled("ignored", "handler_error", "ignored: the handler failed")')],
    "a batch's writes commit one by one (no batch transaction)": [(J + "inbound/apply.py",
        "    with transaction.atomic():\n        # FOR NO KEY UPDATE",
        "    with __import__('contextlib').nullcontext():\n        # FOR NO KEY UPDATE")],
    # Forged and replayed deliveries.
    "the webhook JWT's signature is not checked": [(J + "inbound/intake.py",
        'options={"require": [], ', 'options={"verify_signature": False, "require": [], ')],
    "an expired webhook JWT is accepted": [(J + "inbound/intake.py",
        "    _check_times(claims, clock.now().timestamp())\n", "")],
    "a refused delivery leaves no trace": [(J + "inbound/intake.py",
        '    sync_log_write(direction=INBOUND, outcome="refused",',
        '    if False:\n        sync_log_write(direction=INBOUND, outcome="refused",')],
    "a refusal's log line quotes the token": [(J + "inbound/intake.py",
        'raise Unauthenticated("token rejected (InvalidSignatureError)")',
        'raise Unauthenticated(f"token rejected (InvalidSignatureError) {token}")')],
}
# ALLYPROOF_BREAKS_ONLY=NAMED: run only the named schedules (-k named), to see which one catches a break.
TEST = ["tests/jira/test_sync_property.py", *(["-k", "named"] if os.environ.get("ALLYPROOF_BREAKS_ONLY") == "NAMED" else []),
        "-x", "-q", "-rf", "-p", "no:randomly", "-p", "no:logging", "--tb=short"]
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
