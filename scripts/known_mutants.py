"""The mutants issue 9 names, applied one at a time to the sync-back code; each must be killed by the
tests of inbound, status sync, reconciliation and webhook registration. Restores every file it touches.
Run: .venv/bin/python scripts/known_mutants.py"""
import subprocess, pathlib
ROOT = pathlib.Path(__file__).resolve().parents[1]
J = "allyproof/integrations/jira/"
MUTANTS = {
 "status name 'Done' instead of the category": (J + "webhook_payload.py",
   'return Observation(category=str(category.get("key") or ""), changed_at=changed_at)',
   'return Observation(category="done" if status.get("name") == "Done" else "new", changed_at=changed_at)'),
 "ignoring the changelog (status change time)": (J + "webhook_payload.py",
   "return observe_issue(event.issue, status_changed_at=event.time if event.status_changed else None)",
   "return observe_issue(event.issue, status_changed_at=None)"),
 "ignoring the changelog (dedupe)": (J + "inbound.py",
   'change = f"changelog:{event.changelog_id}" if event.changelog_id else (',
   'change = "-" if event.changelog_id else ('),
 "echo check drops every later event on an issue we once commented on": (J + "status_sync.py",
   '''    if not event.comment_id:
        return False
    return OutboundWrite.objects.filter(cloud_id=connection.cloud_id, kind="comment", jira_id=event.comment_id).exists()''',
   '''    return OutboundWrite.objects.filter(cloud_id=connection.cloud_id, kind="comment", issue_key=event.issue_key).exists()'''),
 "every site using the organization's first rule (regression policy)": (J + "scan_followup.py",
   "rule = SiteSyncRule.objects.filter(site_id=row.site_id).first()",
   "rule = SiteSyncRule.objects.filter(site__organization_id=row.site.organization_id).order_by('-pk').first()"),
 "every site using the organization's first rule (webhook filter)": (J + "webhooks.py",
   'return sorted(set(enabled_rules(connection).values_list("project_key", flat=True)))',
   'return sorted(set(enabled_rules(connection).values_list("project_key", flat=True)[:1]))'),
}
TESTS = ["tests/jira/test_webhook_fixtures.py", "tests/jira/test_sync_decision.py", "tests/jira/test_inbound.py",
         "tests/jira/test_sync_back.py", "tests/jira/test_reconcile.py", "tests/jira/test_webhooks.py",
         "tests/jira/test_webhook_healing.py"]
for name, (path, old, new) in MUTANTS.items():
    f = ROOT / path
    src = f.read_text()
    assert src.count(old) == 1, (name, path)
    f.write_text(src.replace(old, new))
    try:
        r = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pytest", *TESTS, "-x", "-q", "-p", "no:logging"],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
    finally:
        f.write_text(src)
    failed = [l for l in r.stdout.splitlines() if l.startswith("FAILED")]
    print(("KILLED " if r.returncode else "SURVIVED ") + name + (" by " + failed[0][7:] if failed else ""), flush=True)
