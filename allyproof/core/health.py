"""Health checks (django-health-check plugins) for the product's own moving parts.

Infrastructure checks fail the endpoint: the database (the library's), the queue, Redis. Product
checks read what the product already records and say what it is: "ok", "warning" when a recorded
fact is known to be wrong (a webhook registration past its expiry, a refresh error), "paused" when
Jira's rate limits pause calls, and "unknown" when the product does not record the fact (yet)
rather than guessing. A warning or a pause marks the answer "degraded" without failing it, so a
load balancer does not take the web app out of service for something on Jira's side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import ClassVar

from asgiref.sync import sync_to_async
from django.conf import settings
from health_check.base import HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable, ServiceWarning

from allyproof.core import clock

OK, WARNING, PAUSED, UNKNOWN, NOT_USED = "ok", "warning", "paused", "unknown", "not used"


@dataclasses.dataclass
class ProductCheck(HealthCheck):
    """Reads recorded facts in the request's thread (its database connection) and keeps the verdict."""

    name: ClassVar[str] = ""
    state: str = dataclasses.field(default=UNKNOWN, repr=False)
    detail: str = dataclasses.field(default="", repr=False)

    def inspect(self, now: dt.datetime) -> tuple[str, str]:
        raise NotImplementedError

    async def run(self) -> None:
        try:
            self.state, self.detail = await sync_to_async(self.inspect, thread_sensitive=True)(clock.now())
        except HealthCheckException:
            raise
        except Exception as error:  # a fact we cannot read is unknown, not an outage of the service
            self.state, self.detail = UNKNOWN, f"could not be read ({error.__class__.__name__})"
        if self.state == WARNING:
            raise ServiceWarning(self.detail)


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _webhook_connections():
    from allyproof.integrations.jira.models import JiraConnection

    return JiraConnection.objects.active().exclude(webhook_ids=[])


@dataclasses.dataclass
class Queue(ProductCheck):
    name = "queue"

    def inspect(self, now):
        from huey.contrib.djhuey import HUEY

        try:
            pending, scheduled = HUEY.pending_count(), HUEY.scheduled_count()
        except Exception as error:  # Redis down, SQLite queue unreadable: the message names the kind only
            raise ServiceUnavailable(f"the task queue cannot be read ({error.__class__.__name__})") from None
        backend = "Redis" if "Redis" in type(HUEY).__name__ else "SQLite"
        return OK, f"{backend} queue: {pending} waiting, {scheduled} scheduled"


@dataclasses.dataclass
class RedisPing(ProductCheck):
    name = "redis"

    def inspect(self, now):
        if not settings.CONFIG.redis_url:
            return NOT_USED, "REDIS_URL is not set: queue and pacing use the embedded default"
        import redis

        try:
            redis.Redis.from_url(settings.CONFIG.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            raise ServiceUnavailable(f"Redis does not answer ({error.__class__.__name__})") from None
        return OK, "Redis answers"


@dataclasses.dataclass
class LastWebhook(ProductCheck):
    name = "last_webhook"

    def inspect(self, now):
        connections = list(_webhook_connections().only("pk", "last_webhook_at", "webhook_ids", "webhook_expires_at"))
        if not connections:
            return UNKNOWN, "no connection has a webhook registration"
        silent = sum(1 for c in connections if c.webhooks_silent)
        seen = [c.last_webhook_at for c in connections if c.last_webhook_at]
        if silent:
            return WARNING, f"{silent} of {len(connections)} registrations received nothing in their first hour"
        if not seen:
            return UNKNOWN, "no delivery received yet"
        # last_webhook_at is written at most once a minute, so this is accurate to the minute.
        return OK, f"last delivery {_when(max(seen))} (to the minute)"


@dataclasses.dataclass
class WebhookRefresh(ProductCheck):
    name = "webhook_refresh"

    def inspect(self, now):
        connections = list(_webhook_connections().only("pk", "webhook_expires_at", "webhook_error"))
        if not connections:
            return UNKNOWN, "no connection has a webhook registration"
        expired = [c for c in connections if c.webhook_expires_at is None or c.webhook_expires_at <= now]
        failing = [c for c in connections if c.webhook_error]
        if expired or failing:
            return WARNING, (f"{len(expired)} registration(s) past expiry, {len(failing)} with a refresh error; "
                             "the six-hourly refresh job has not renewed them")
        soonest = min(c.webhook_expires_at for c in connections)
        # The refresh job's runs are not recorded; the registrations' expiry dates are.
        return OK, f"{len(connections)} registration(s), the soonest expires {_when(soonest)}"


@dataclasses.dataclass
class Reconciliation(ProductCheck):
    name = "reconciliation"

    def inspect(self, now):
        return UNKNOWN, ("reconciliation runs every 30 minutes but its runs are not recorded yet; "
                         "see allyproof_jira_reconcile_decisions_total in /metrics")


def _pauses_now() -> list[tuple[str, float, str]]:
    """(scope, until as epoch seconds, reason) of every pause in force, from the gate in use."""
    if settings.CONFIG.redis_url:
        import redis

        from allyproof.integrations.jira.connection.pacing import RedisGate

        prefix = RedisGate.__init__.__kwdefaults__["prefix"] + "pause:"
        client = redis.Redis.from_url(settings.CONFIG.redis_url, socket_timeout=2)
        now_ms = int(time.time() * 1000)
        found = []
        for key in client.scan_iter(f"{prefix}*", count=500):
            until = int(client.get(key) or 0)
            if until > now_ms:
                found.append((key.decode()[len(prefix):], until / 1000, ""))
        return found
    from allyproof.integrations.jira.models import PacingGate

    rows = PacingGate.objects.filter(paused_until__gt=time.time())  # the gate's own clock: time.time
    return [(row.key, row.paused_until, row.pause_reason) for row in rows]


def _points_budget() -> str:
    """The app-wide points pool this hour, as every consumer accounts for it (budget.py)."""
    from allyproof.integrations.jira.connection import budget as points

    shared = points.default_budget()
    pool = shared.store.pools([points.GLOBAL], points.hour_of(time.time()))[points.GLOBAL]
    return f"points this hour: {pool.used} of {pool.quota} used (app-wide pool)"


@dataclasses.dataclass
class JiraBudget(ProductCheck):
    name = "jira_budget"

    def inspect(self, now):
        pauses = _pauses_now()
        budget = _points_budget()
        if not pauses:
            return OK, f"no pause in force; {budget}"
        latest = max(until for _, until, _ in pauses)
        scopes = ", ".join(sorted({"every site" if scope == "global" else "1 site" for scope, _, _ in pauses}))
        until = dt.datetime.fromtimestamp(latest, dt.UTC).strftime("%H:%M")
        return PAUSED, f"Paused by Jira until {until} UTC ({len(pauses)} pause(s): {scopes}); {budget}"


PRODUCT_CHECKS = (Queue, RedisPing, LastWebhook, WebhookRefresh, Reconciliation, JiraBudget)
