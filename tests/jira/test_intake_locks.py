"""Intake never waits on the row locks the inbound worker holds (PostgreSQL: SQLite has no row locks).

A sync gunicorn worker that waits on a lock holds every delivery queued behind it, so a wait here is
the intake's tail latency (docs/benchmarks.md, "the lock that made the tail")."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db
from django.db import connections, transaction

from allyproof.integrations.jira.inbound import intake
from allyproof.integrations.jira.models import JiraConnection
from tests.services import require_postgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _hold_row_like_a_batch(pk: int, held: threading.Event, release: threading.Event) -> None:
    try:
        with transaction.atomic():  # this thread's own database connection, as a consumer's would be
            JiraConnection.objects.select_for_update(no_key=True).get(pk=pk)
            held.set()
            release.wait(10)
    finally:
        connections.close_all()


def test_the_last_webhook_stamp_skips_a_row_a_batch_holds_and_waits_for_nothing(connected):
    require_postgres()
    JiraConnection.objects.filter(pk=connected.pk).update(last_webhook_at=None)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_row_like_a_batch, args=(connected.pk, held, release))
    holder.start()
    try:
        assert held.wait(10)
        with db.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait fails the test instead of hanging it
        intake._note_seen(intake.connection_for_url(connected.webhook_token))
        assert JiraConnection.objects.get(pk=connected.pk).last_webhook_at is None  # skipped, not waited for
    finally:
        release.set()
        holder.join(10)
        with db.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    intake._note_seen(intake.connection_for_url(connected.webhook_token))
    assert JiraConnection.objects.get(pk=connected.pk).last_webhook_at is not None  # the next delivery stamps
