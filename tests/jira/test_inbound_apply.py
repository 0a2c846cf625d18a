"""The worker half of inbound webhooks (inbound_apply): deliveries intake recorded as "received" are
applied per connection in arrival order, and a worker that dies between intake and apply loses nothing."""

import contextlib

import pytest

from allyproof.core import clock
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import InboundEvent, JiraSyncLog
from allyproof.monitoring.models import Violation
from tests.jira.conftest import NoGate, deliver_into


@pytest.fixture
def received(acme, connected, sandbox, client, same_clock):
    """image-alt pushed as ACME-1; deliveries reach intake, and nothing applies them until a test says so."""
    webhooks.webhook_sync(connection=connected, client=client_for(connected))
    violation = acme.violations.get(rule_id="image-alt")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    sandbox.webhook_sender = deliver_into(client, apply=False)
    same_clock.advance(1)
    return violation


def move(sandbox, same_clock, *statuses):
    for name in statuses:
        sandbox.transition_issue(None, "ACME-1", name)
        same_clock.advance(1)
    sandbox.deliver_pending()


def inbound_codes(violation):
    return list(JiraSyncLog.objects.filter(violation=violation, direction="inbound").order_by("pk")
                .values_list("code", flat=True))


def state(violation):
    violation.refresh_from_db()
    return violation.status


def test_one_issues_changes_apply_in_arrival_order_and_done_counts_after_the_last_reopen(
        received, sandbox, same_clock):
    move(sandbox, same_clock, "Done", "To Do", "Done", "In Progress")
    assert list(InboundEvent.objects.values_list("outcome", flat=True).distinct()) == ["received"]
    assert state(received) == Violation.Status.OPEN  # intake alone changes nothing
    assert inbound_apply.pending_apply() == 4
    # Resolved, reopened, resolved, reopened: four state changes for four distinct changes, in order.
    assert inbound_codes(received) == ["entered_done", "left_done", "entered_done", "left_done"]
    assert state(received) == Violation.Status.OPEN
    move(sandbox, same_clock, "Done")
    inbound_apply.pending_apply()
    assert state(received) == Violation.Status.RESOLVED and inbound_codes(received)[-1] == "entered_done"


@contextlib.contextmanager
def immediate():
    """Huey's immediate mode (its own in-memory store): an enqueued task runs at once."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    try:
        yield HUEY
    finally:
        HUEY.delete(inbound_apply.WAKE_FLAG)
        HUEY.immediate = False


class WorkerKilled(BaseException):
    """Stands for SIGKILL mid-batch: not an Exception, so no handler-failure path catches it."""


def test_a_worker_killed_between_intake_and_apply_loses_nothing(received, sandbox, same_clock):
    move(sandbox, same_clock, "In Progress", "Done")
    applied = []

    def dies_on_the_second(connection, event, link):
        if applied:
            raise WorkerKilled
        applied.append(event)
        from allyproof.integrations.jira.inbound.status_sync import on_issue_updated
        return on_issue_updated(connection, event, link)

    with pytest.raises(WorkerKilled):
        inbound_apply.pending_apply(handlers={"jira:issue_updated": dies_on_the_second})
    # The batch's transaction died with it: the first delivery's apply is rolled back too.
    assert list(InboundEvent.objects.values_list("outcome", flat=True)) == ["received", "received"]
    assert inbound_codes(received) == [] and state(received) == Violation.Status.OPEN
    # After a restart, the sweep finds deliveries that waited too long and queues a run (immediate here).
    from allyproof.integrations.jira.tasks import inbound_apply_task

    assert inbound_apply.resume(enqueue=inbound_apply_task) == 0  # not yet stale: their own wake may still be on its way
    with immediate():
        assert inbound_apply.resume(enqueue=inbound_apply_task, now=clock.now() + inbound_apply.STALE) == 2
    assert list(InboundEvent.objects.values_list("outcome", flat=True)) == ["ignored", "applied"]
    assert inbound_codes(received) == ["not_done", "entered_done"]  # once each: nothing doubled
    assert state(received) == Violation.Status.RESOLVED


def test_a_failed_delivery_holds_back_its_issue_so_nothing_overtakes_it(received, sandbox, same_clock):
    move(sandbox, same_clock, "Done", "To Do")
    calls = []

    def fails_first(connection, event, link):
        calls.append(event.payload["issue"]["fields"]["status"]["name"])
        raise RuntimeError("the database went away")

    assert inbound_apply.pending_apply(handlers={"jira:issue_updated": fails_first}) == 0
    assert calls == ["Done"]  # the To Do behind it was not tried
    assert inbound_apply.pending_apply() == 2
    assert inbound_codes(received) == ["handler_error", "entered_done", "left_done"]


def test_intake_wakes_a_run(received, sandbox, same_clock):
    with immediate():
        move(sandbox, same_clock, "Done")  # the wake's run happens at once (immediate mode)
    assert InboundEvent.objects.get().outcome == "applied" and state(received) == Violation.Status.RESOLVED


def test_a_fresh_wake_flag_holds_back_a_second_run(received, sandbox, same_clock):
    """The flag set by a run still on its way: intake enqueues nothing more (the batching)."""
    with immediate() as huey:
        assert inbound_apply.raise_flag(huey, now=clock.now())
        same_clock.advance(1)
        move(sandbox, same_clock, "Done")
    assert InboundEvent.objects.get().outcome == "received"  # waits for the run that set the flag


def test_a_wake_flag_left_by_a_killed_consumer_expires_on_its_own(received, sandbox, same_clock):
    """A consumer killed after taking a run but before clearing the flag: without expiry the flag would
    stay set and every later delivery would wait for the sweep; a flag older than WAKE_TTL counts as clear."""
    with immediate() as huey:
        assert inbound_apply.raise_flag(huey, now=clock.now())  # the killed consumer's run never clears it
        same_clock.advance(inbound_apply.WAKE_TTL.total_seconds() + 1)
        move(sandbox, same_clock, "Done")
    assert InboundEvent.objects.get().outcome == "applied" and state(received) == Violation.Status.RESOLVED


def test_a_wake_flag_without_a_time_counts_as_clear(received, sandbox, same_clock):
    """An older release set "1": read as expired, not as a flag held forever."""
    with immediate() as huey:
        huey.put_if_empty(inbound_apply.WAKE_FLAG, "1")
        move(sandbox, same_clock, "Done")
    assert InboundEvent.objects.get().outcome == "applied"
