"""Operations endpoints: /health/ (people and machines) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac

from asgiref.sync import sync_to_async

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from health_check.checks import Database
from health_check.exceptions import ServiceWarning
from health_check.views import HealthCheckView

from allyproof.core import clock, health, metrics, plugs

LOOPBACK = {"127.0.0.1", "::1"}


def _row(result) -> dict[str, str]:
    check = result.check
    name = getattr(check, "name", "") or "database"
    if result.error is None:
        return {"name": name, "state": getattr(check, "state", health.OK), "detail": getattr(check, "detail", "")}
    state = health.WARNING if isinstance(result.error, ServiceWarning) else "unavailable"
    return {"name": name, "state": state, "detail": result.error.message}


class HealthView(HealthCheckView):
    """The library runs the checks; this view says "degraded" (200) for warnings and pauses and
    "unavailable" (503) only when the database, queue or Redis fails."""

    def get_checks(self):
        # The integrations' rows come from their declared slot, read when a request needs them.
        for check in (Database, *health.CORE_CHECKS, *plugs.plugged(plugs.HEALTH_CHECKS)):
            yield check()

    async def get(self, request, *args, **kwargs):
        results = await asyncio.gather(*(check.get_result() for check in self.get_checks()))
        rows = [_row(result) for result in results]
        failed = any(row["state"] == "unavailable" for row in rows)
        degraded = any(row["state"] in (health.WARNING, health.PAUSED) for row in rows)
        overall = "unavailable" if failed else "degraded" if degraded else "ok"
        status = 503 if failed else 200
        if request.GET.get("format") == "json" or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"status": overall, "checks": rows}, status=status)
        context = {"overall": overall, "checks": rows, "checked_at": clock.now()}
        # The page's context processors read the session and the database: sync code.
        return await sync_to_async(render, thread_sensitive=True)(request, "core/health.html", context, status=status)


def _metrics_allowed(request) -> bool:
    token = settings.OPS.metrics_token
    if token:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(presented.encode(), token.encode())
    return request.META.get("REMOTE_ADDR") in LOOPBACK


def metrics_view(request):
    if not _metrics_allowed(request):
        return HttpResponse("Forbidden: /metrics needs the metrics token (or a loopback client when none is set).\n",
                            status=403, content_type="text/plain")
    body, content_type = metrics.render()
    response = HttpResponse(body, content_type=content_type)
    add_never_cache_headers(response)
    return response
