"""Health checks (django-health-check plugins) for the product's own moving parts.

Infrastructure checks fail the endpoint: the database (the library's), the queue, Redis. Integrations
add theirs through core/plugs.py's HEALTH_CHECKS slot (the Jira app's webhooks, reconciliation and rate
limits live in integrations/jira/ui/health_checks.py), so this module names no integration. Product
checks read what the product already records and say what it is: "ok", "warning" when a recorded
fact is known to be wrong (a webhook registration past its expiry, a refresh error), "paused" when
Jira's rate limits pause calls, and "unknown" when the product does not record the fact (yet)
rather than guessing. A warning or a pause marks the answer "degraded" without failing it, so a
load balancer does not take the web app out of service for something on Jira's side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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


def when(moment: dt.datetime) -> str:
    """A recorded moment as health details write it."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


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


CORE_CHECKS = (Queue, RedisPing)
