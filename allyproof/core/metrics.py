"""Prometheus metrics: every counter and histogram the product emits, named once, here.

The code calls these functions at its seams (the Jira HTTP module, push-job items, the webhook
endpoint, reconciliation, pauses). Under gunicorn and several consumers each process writes its own
files in PROMETHEUS_MULTIPROC_DIR (`./dev serve` sets it) and the /metrics view adds them up, so a
scrape sees the whole deployment rather than whichever worker answered. Gauges that are a fact about
shared state (queue depth, pauses in force) are read at scrape time instead of kept per process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import wraps

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

JIRA_REQUEST_SECONDS = Histogram(
    "allyproof_jira_request_seconds", "Time of one HTTP request to Atlassian, by method and outcome",
    ["method", "outcome"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
ISSUES_CREATED = Counter("allyproof_jira_issues_created_total", "Jira issues created by a push (any path)")
PUSH_ITEMS = Counter("allyproof_jira_push_items_total", "Push-job items finished, by outcome", ["outcome"])
DELIVERIES = Counter("allyproof_jira_webhook_deliveries_total", "Webhook deliveries answered, by outcome", ["outcome"])
APPLIED = Counter("allyproof_jira_webhook_applied_total", "Received webhook deliveries the worker finished, by outcome",
                  ["outcome"])
RECONCILE_DECISIONS = Counter(
    "allyproof_jira_reconcile_decisions_total", "What reconciliation decided per linked issue it checked", ["decision"]
)
PAUSES = Counter("allyproof_jira_pauses_total", "Pauses Jira's rate limits imposed, by scope and reason",
                 ["scope", "reason"])
DUPLICATES_REPAIRED = Counter("allyproof_jira_duplicates_repaired_total", "Duplicate Jira issues repaired")


def _outcome(status: int) -> str:
    return "429" if status == 429 else f"{status // 100}xx"


def jira_request_observed(method: str, status: int | None, seconds: float) -> None:
    """One HTTP request to Atlassian (the client's transport); no answer at all counts as outcome "network"."""
    JIRA_REQUEST_SECONDS.labels(method, "network" if status is None else _outcome(status)).observe(seconds)


def issue_created() -> None:
    ISSUES_CREATED.inc()


def push_item(outcome: str) -> None:
    PUSH_ITEMS.labels(outcome).inc()


def deliveries_applied(outcomes: list[str]) -> None:
    for outcome in set(outcomes):
        APPLIED.labels(outcome).inc(outcomes.count(outcome))


def pause(scope: str, reason: str) -> None:
    PAUSES.labels(scope, reason or "unknown").inc()


def duplicates_repaired(count: int = 1) -> None:
    DUPLICATES_REPAIRED.inc(count)


def reconcile_decisions(*, checked: int, resolved: int, deleted: int) -> None:
    for decision, count in (("resolved", resolved), ("deleted", deleted),
                            ("still_open", max(0, checked - resolved - deleted))):
        if count:
            RECONCILE_DECISIONS.labels(decision).inc(count)


def _delivery_outcome(response) -> str:
    if response.status_code in (200, 202):  # 202: received, applied by the worker
        try:
            return str(json.loads(response.content).get("outcome", "accepted"))[:20]
        except (ValueError, AttributeError):
            return "accepted"
    known = {401: "unauthenticated", 400: "bad_payload", 404: "unknown_url", 410: "retired_url", 413: "too_large"}
    return known.get(response.status_code, f"http_{response.status_code}")


def counts_deliveries(view):
    """Decorates the webhook view: every answer it gives is one delivery, by outcome."""
    @wraps(view)
    def counted(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        DELIVERIES.labels(_delivery_outcome(response)).inc()
        return response
    return counted


class QueueDepth(Collector):
    """Read from Huey at scrape time: the queue is one shared fact, not a per-process counter."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from huey.contrib.djhuey import HUEY

        pending = GaugeMetricFamily("allyproof_queue_pending", "Tasks waiting in the Huey queue")
        scheduled = GaugeMetricFamily("allyproof_queue_scheduled", "Tasks scheduled for later (retries, delays)")
        pending.add_metric([], HUEY.pending_count())
        scheduled.add_metric([], HUEY.scheduled_count())
        yield pending
        yield scheduled


def render() -> tuple[bytes, str]:
    """The exposition text for one scrape, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in (JIRA_REQUEST_SECONDS, ISSUES_CREATED, PUSH_ITEMS, DELIVERIES, RECONCILE_DECISIONS,
                          PAUSES, DUPLICATES_REPAIRED):
            registry.register(collector)
    registry.register(QueueDepth())
    return generate_latest(registry), CONTENT_TYPE_LATEST

