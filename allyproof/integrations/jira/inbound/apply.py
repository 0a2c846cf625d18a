"""The worker half of inbound webhooks: applies the deliveries intake recorded as "received".

Intake (inbound.py) verifies, dedupes and records in one INSERT and answers 202; this applies them.
Order: one connection at a time holds its row lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite's
IMMEDIATE transactions serialise writers anyway) and applies its received deliveries by id, that is
in the order intake committed them, so each issue's changes apply in arrival order, and the decision
(`sync_decision`) still compares Jira's own times, so a Done that arrives after a later reopen stays
ignored. A batch commits the applies, the outcomes and the sync-log lines together: a worker killed
mid-batch leaves every delivery of that batch "received", to be applied by the next run.
A handler that fails leaves its delivery "received" (with the error in its detail) and holds back the
later deliveries of the same issue, so nothing overtakes it; the next run tries again.

Waking: intake sets a flag in Huey's store and enqueues one run only when the flag was clear; a run
clears it before it looks, so a delivery recorded during a run gets a run of its own. The flag holds
the time it was set, and a flag older than WAKE_TTL counts as clear: a consumer killed between taking
a run and clearing the flag would otherwise hold every later wake back until the periodic sweep, which
re-enqueues a run when deliveries have waited longer than STALE (a run lost with a killed consumer).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable

from django.db import connection as db
from django.db import transaction
from django.db.models import Q

from allyproof.core import clock, metrics

from allyproof.integrations.jira.models import InboundEvent, JiraConnection, JiraLink, JiraSyncLog
from allyproof.integrations.jira.inbound.status_sync import HANDLERS, Handled, Handler
from allyproof.integrations.jira.sync_log import sync_log_line
from allyproof.integrations.jira.inbound.payload import BadPayload, Event, parse

log = logging.getLogger(__name__)
BATCH = 200
STALE = dt.timedelta(seconds=30)
WAKE_FLAG = "jira-inbound-apply-wanted"
# Longer than a run normally waits in the queue plus its gathering; a legitimate run that waits longer
# (consumers busy with long jobs) only gets a second run beside it, which finds little to do.
WAKE_TTL = dt.timedelta(seconds=10)
GATHER_SECONDS = 1.0
RECEIVED = InboundEvent.Outcome.RECEIVED


def wake(enqueue: Callable[[], None]) -> None:
    """`enqueue` (the task layer's run of `run`) is called only when this call raised the flag."""
    from huey.contrib.djhuey import HUEY

    if raise_flag(HUEY, now=clock.now()):
        enqueue()


def raise_flag(huey, *, now: dt.datetime) -> bool:
    """True when this call set the wake flag (so its caller enqueues the run). A flag older than
    WAKE_TTL, or one not holding a time (set by an older release), is replaced as if it were clear."""
    stamp = now.timestamp()
    raised = huey.get(WAKE_FLAG, peek=True)  # set and fresh is the common case: one round trip
    if isinstance(raised, float) and abs(stamp - raised) < WAKE_TTL.total_seconds():
        return False
    if raised is not None:
        huey.delete(WAKE_FLAG)  # two wakers racing here may both win below: one extra run, nothing lost
    return huey.put_if_empty(WAKE_FLAG, stamp)


def run(*, handlers: dict[str, Handler] | None = None) -> int:
    """What the task runs: clear the wake flag, then apply everything received. Returns how many."""
    from huey.contrib.djhuey import HUEY

    # Gather first: deliveries arriving meanwhile find the flag set and enqueue nothing, so one run
    # applies them as one batch (measured: a run per delivery cost the consumers 10.8 ms each).
    time.sleep(GATHER_SECONDS)
    HUEY.delete(WAKE_FLAG)
    return pending_apply(handlers=handlers)


def pending_apply(*, handlers: dict[str, Handler] | None = None, batch: int = BATCH) -> int:
    done = 0
    connection_ids = (InboundEvent.objects.filter(outcome=RECEIVED).exclude(connection=None)
                      .values_list("connection_id", flat=True).distinct())
    for connection_id in list(connection_ids):
        while True:
            applied, fetched = _apply_batch(connection_id, HANDLERS if handlers is None else handlers, batch)
            done += applied
            if fetched < batch or applied == 0:
                break
    return done


def resume(*, enqueue: Callable[[], None], now: dt.datetime | None = None) -> int:
    """For the sweeper: deliveries waiting longer than STALE get a run (its wake may have been lost)."""
    from huey.contrib.djhuey import HUEY

    waiting = InboundEvent.objects.filter(outcome=RECEIVED, received_at__lte=(now or clock.now()) - STALE).count()
    if waiting:
        HUEY.delete(WAKE_FLAG)
        enqueue()
    return waiting


def _links(connection: JiraConnection, events: Iterable[Event]) -> list[JiraLink]:
    """Every live link the batch may name, in one query (link_for's rule is then applied in memory)."""
    ids = {e.issue_id for e in events if e.issue_id}
    keys = {e.issue_key for e in events if e.issue_key}
    if not ids and not keys:
        return []
    return list(JiraLink.objects.filter(Q(issue_id__in=ids) | Q(issue_key__in=keys), cloud_id=connection.cloud_id,
                                        organization_id=connection.organization_id, status=JiraLink.Status.LINKED))


def _link_for(links: list[JiraLink], event: Event) -> JiraLink | None:
    """status_sync.link_for over the batch's links: by id first, else by key; a link deleted by an
    earlier delivery of the batch no longer counts."""
    live = [link for link in links if link.status == JiraLink.Status.LINKED]
    by_id = [link for link in live if event.issue_id and link.issue_id == event.issue_id]
    by_key = [link for link in live if event.issue_key and link.issue_key == event.issue_key]
    return (by_id or by_key or [None])[0]


def _handle(connection: JiraConnection, event: Event, link: JiraLink | None, handlers: dict[str, Handler]) -> Handled:
    if not connection.is_active:
        return Handled(InboundEvent.Outcome.IGNORED, "connection_inactive",
                       f"ignored: the connection is {connection.get_status_display().lower()}")
    return handlers[event.name](connection, event, link)


def _apply_batch(connection_id: int, handlers: dict[str, Handler], batch: int) -> tuple[int, int]:
    """Returns (deliveries finished, deliveries fetched)."""
    with transaction.atomic():
        # FOR NO KEY UPDATE: batches of one connection still take turns, but intake's INSERTs (whose foreign
        # key takes FOR KEY SHARE on this row) do not wait for a batch to commit. A plain FOR UPDATE made
        # every delivery that arrived during a batch wait for it: p99 1.1 s at 243/s (bench/webhook_intake.py).
        connection = JiraConnection.objects.select_for_update(no_key=True).filter(pk=connection_id).first()
        if connection is None:
            return 0, 0
        records = list(InboundEvent.objects.filter(connection_id=connection_id, outcome=RECEIVED).order_by("pk")[:batch])
        events: dict[int, Event | None] = {}
        for record in records:
            try:
                events[record.pk] = parse(record.body.encode())
            except BadPayload:  # intake parsed it once already; a row edited by hand is not applied
                events[record.pk] = None
        links = _links(connection, [e for e in events.values() if e is not None])
        held: set[str] = set()  # issues whose earlier delivery failed: later ones wait behind it
        finished, lines = [], []
        for record in records:
            event = events[record.pk]
            issue = record.issue_id or record.issue_key
            if issue in held:
                continue
            handled = _apply_one(connection, record, event, links, handlers)
            if handled is None:
                held.add(issue)
                lines.append(_line(connection, record, event, links, "failed", "handler_error", record.detail))
                finished.append(record)  # its detail says why; its outcome stays "received"
                continue
            record.outcome, record.detail, record.body = handled.outcome, handled.message[:300], ""
            finished.append(record)
            lines.append(_line(connection, record, event, links, handled.outcome, handled.code, handled.message,
                               handled.violation_id))
            log.info("jira.webhook.applied event_name=%s issue=%s outcome=%s reason=%s", record.event,
                     record.issue_key, handled.outcome, handled.code)
        _finish(finished)
        JiraSyncLog.objects.bulk_create(lines)
    metrics.deliveries_applied([r.outcome for r in finished if r.outcome != RECEIVED])
    return sum(1 for r in finished if r.outcome != RECEIVED), len(records)


def _finish(records: list[InboundEvent]) -> None:
    """Each record's outcome and detail, its body dropped once applied: one written-out UPDATE run for
    every row in one executemany (bulk_update's CASE expression cost a fifth of the worker's CPU to build)."""
    if not records:
        return
    meta = InboundEvent._meta
    q = db.ops.quote_name
    columns = {name: q(meta.get_field(name).column) for name in ("outcome", "detail", "body", "id")}
    sql = (f"UPDATE {q(meta.db_table)} SET {columns['outcome']} = %s, {columns['detail']} = %s, "
           f"{columns['body']} = %s WHERE {columns['id']} = %s")
    with db.cursor() as cursor:
        cursor.executemany(sql, [(r.outcome, r.detail, r.body, r.pk) for r in records])


def _apply_one(connection: JiraConnection, record: InboundEvent, event: Event | None, links: list[JiraLink],
               handlers: dict[str, Handler]) -> Handled | None:
    if event is None:
        return Handled(InboundEvent.Outcome.IGNORED, "bad_payload", "ignored: the stored body is not readable")
    try:
        with transaction.atomic():  # a failed handler rolls back its own writes only
            return _handle(connection, event, _link_for(links, event), handlers)
    except Exception as problem:  # kept "received" and tried again by the next run
        log.exception("jira.webhook.handler_failed record=%s", record.pk)
        record.detail = f"handler failed: {problem.__class__.__name__}; tried again at the next run"
        return None


def _line(connection, record, event, links, outcome, code, message, violation_id=None):
    link = _link_for(links, event) if event is not None else None
    return sync_log_line(direction="inbound", outcome=outcome, code=code, message=message, connection=connection,
                         event=record.event, identifier=record.identifier,
                         issue_key=record.issue_key or (link.issue_key if link else ""),
                         violation_id=violation_id or (link.violation_id if link else None))
