"""The Jira integration's rows on /health/ (core/plugs.py HEALTH_CHECKS): webhooks, reconciliation,
and Jira's rate limits. Each reads what the integration records; core/health.py says what the states mean.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from django.conf import settings

from allyproof.core.health import OK, PAUSED, UNKNOWN, WARNING, ProductCheck, when
from allyproof.integrations.jira.connection import budget as points
from allyproof.integrations.jira.connection.pacing import RedisGate
from allyproof.integrations.jira.models import JiraConnection, PacingGate


def _webhook_connections():
    return JiraConnection.objects.active().exclude(webhook_ids=[])


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
        return OK, f"last delivery {when(max(seen))} (to the minute)"


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
        return OK, f"{len(connections)} registration(s), the soonest expires {when(soonest)}"


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

        prefix = RedisGate.__init__.__kwdefaults__["prefix"] + "pause:"
        client = redis.Redis.from_url(settings.CONFIG.redis_url, socket_timeout=2)
        now_ms = int(time.time() * 1000)
        found = []
        for key in client.scan_iter(f"{prefix}*", count=500):
            until = int(client.get(key) or 0)
            if until > now_ms:
                found.append((key.decode()[len(prefix):], until / 1000, ""))
        return found
    rows = PacingGate.objects.filter(paused_until__gt=time.time())  # the gate's own clock: time.time
    return [(row.key, row.paused_until, row.pause_reason) for row in rows]


def _points_budget() -> str:
    """The app-wide points pool this hour, as every consumer accounts for it (budget.py)."""
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


HEALTH_CHECKS = (LastWebhook, WebhookRefresh, Reconciliation, JiraBudget)
