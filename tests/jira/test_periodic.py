"""`manage.py allyproof_jira_run <job>`: every periodic job, now, the same functions as the schedule."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from huey.contrib.djhuey import HUEY

from allyproof.core import clock
from allyproof.integrations.jira import periodic, tasks
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import PushJob
from tests.jira.conftest import NoGate


def run(*args) -> str:
    out = io.StringIO()
    call_command("allyproof_jira_run", *args, stdout=out)
    return out.getvalue()


def push_one(site, connection, rule_id):
    violation = site.violations.get(rule_id=rule_id)
    push.violation_push(violation=violation, connection=connection, client=client_for(connection, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    return violation


@pytest.mark.django_db
def test_list_names_every_job_with_its_schedule():
    lines = run("list").splitlines()
    assert [line.split()[0] for line in lines] == [job.name for job in periodic.JOBS]
    assert lines[0].split()[1:6] == ["*/30", "*", "*", "*", "*"] and "missed webhooks" in lines[0]
    assert "no --org" in lines[2]


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    (("nope",), "No periodic job 'nope'. Jobs: reconcile, webhook-refresh, sweep, wipe-handshakes, scan-followups, webhook-heal, sync-log-prune, reconcile-history, converge, inbound-apply (or `list`)."),
    (("sweep", "--org", "demo-agency"), "sweep runs for every organization at once; run it without --org."),
    (("reconcile", "--org", "no-such-org"), "No organization with the slug 'no-such-org'."),
])
def test_bad_arguments_get_a_clear_error(args, message):
    with pytest.raises(CommandError) as refused:
        run(*args)
    assert str(refused.value) == message


def test_reconcile_now_resolves_what_a_lost_webhook_would_have_and_org_scopes_it(acme, connected, sandbox, org,
                                                                                  other_org):
    violation = push_one(acme, connected, "image-alt")
    sandbox.transition_issue(None, "ACME-1", "Done")  # its webhook never arrived
    assert run("reconcile", "--org", other_org.slug) == f"reconcile for {other_org.slug}: 0 violation(s) updated from Jira\n"
    violation.refresh_from_db()
    assert violation.status == "open"  # another organization's run leaves this one alone
    assert run("reconcile", "--org", org.slug) == f"reconcile for {org.slug}: 1 violation(s) updated from Jira\n"
    violation.refresh_from_db()
    assert (violation.status, violation.resolved_source) == ("resolved", "jira:ACME-1")
    assert run("reconcile") == "reconcile: 0 violation(s) updated from Jira\n"  # nothing left to catch up


def test_webhook_refresh_now_extends_a_registration_that_is_due(acme, connected, sandbox):
    webhooks.webhook_sync(connection=connected, client=client_for(connected, gate=NoGate()))
    connected.refresh_from_db()
    hook_id = connected.webhook_ids[0]
    assert run("webhook-refresh") == "webhook-refresh: 0 webhook registration(s) refreshed\n"  # not due yet
    sandbox.clock.freeze()
    sandbox.clock.advance(days=25)
    with clock.frozen(clock.now() + dt.timedelta(days=25)):
        assert run("webhook-refresh") == "webhook-refresh: 1 webhook registration(s) refreshed\n"
    connected.refresh_from_db()
    assert connected.webhook_ids == [hook_id]
    assert [r for r in sandbox.requests if r.method == "PUT" and r.path.endswith("/webhook/refresh")]


def test_sweep_now_resumes_a_job_whose_enqueue_was_lost(acme, connected, sandbox, huey_immediate):
    violation = acme.violations.get(rule_id="image-alt")
    job = jobs.push_job_create(site=acme, violations=[violation], kind=PushJob.Kind.BULK, project_key="ACME",
                               enqueue=None)  # as if the process died before its enqueue
    assert run("sweep") == "sweep: 0 push job(s) re-enqueued\n"  # not stale yet
    PushJob.objects.filter(pk=job.pk).update(created_at=clock.now() - dt.timedelta(hours=1))
    assert run("sweep") == "sweep: 1 push job(s) re-enqueued\n"
    job.refresh_from_db()
    assert job.status == PushJob.Status.COMPLETED  # the re-enqueued job ran (Huey immediate mode)
    assert [issue["key"] for issue in sandbox.issues(None)] == ["ACME-1"]


def test_the_schedule_is_the_table():
    """tasks.py schedules exactly the table's rows, at the table's times, running the table's functions."""
    assert list(tasks.PERIODIC) == [job.name for job in periodic.JOBS]
    registered = {task_class.__name__ for task_class in HUEY._registry._periodic_tasks}
    due_at_half_past = {"reconcile": True, "reconcile-history": False, "webhook-refresh": False, "sweep": True, "wipe-handshakes": True,
                        "converge": True, "scan-followups": True, "webhook-heal": True, "sync-log-prune": False, "inbound-apply": True}
    for job in periodic.JOBS:
        wrapper = tasks.PERIODIC[job.name]
        assert wrapper.task_class.__name__ in registered
        assert wrapper.task_class().validate_datetime(dt.datetime(2026, 12, 1, 12, 30)) == due_at_half_past[job.name]
    assert tasks.PERIODIC["webhook-refresh"].task_class().validate_datetime(dt.datetime(2026, 12, 1, 12, 17))
    assert not tasks.PERIODIC["reconcile"].task_class().validate_datetime(dt.datetime(2026, 12, 1, 12, 31))
