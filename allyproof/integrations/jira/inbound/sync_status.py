"""What the Integrations page says about a connection's webhook registration, in words, not JQL:
the projects Jira tells us about, and what is wrong until it is fixed (selectors, no writes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from allyproof.core import clock

from allyproof.integrations.jira.models import JiraConnection
from allyproof.integrations.jira.connection.webhooks import desired_keys

KEYS = re.compile(r"project IN \(([^)]*)\)")


def _keys(jql: str) -> list[str]:
    match = KEYS.fullmatch(jql.strip())
    return sorted(k.strip() for k in match.group(1).split(",") if k.strip()) if match else []


def words(keys: list[str]) -> str:
    if len(keys) <= 1:
        return "".join(keys)
    return f"{', '.join(keys[:-1])} and {keys[-1]}"


@dataclass(frozen=True)
class WebhookStatus:
    summary: str         # what Jira tells us about
    problem: str = ""    # what is wrong, shown until fixed


def webhook_status(*, connection: JiraConnection) -> WebhookStatus:
    wanted = desired_keys(connection)
    registered = _keys(connection.webhook_jql) if connection.webhook_ids else []
    now = clock.now()
    expired = connection.webhook_expires_at is not None and connection.webhook_expires_at <= now
    if expired:
        registered = []
    summary = (f"Jira tells us about changes in {words(registered)}." if registered
               else "Jira tells us about no changes yet.")
    if not wanted and not registered:
        return WebhookStatus("No site is enabled for sync yet, so Jira sends no status updates.")
    missing = [k for k in wanted if k not in registered]
    retry = ""
    if connection.webhook_retry_at:
        retry = f" We try again automatically at {connection.webhook_retry_at:%H:%M} UTC on {connection.webhook_retry_at:%-d %b}."
    if connection.webhook_error:
        what = f"changes in {words(missing)}" if missing else "the new sync rules"
        return WebhookStatus(summary, f"Jira is not yet telling us about {what}: {connection.webhook_error}.{retry}")
    if expired:
        return WebhookStatus(summary, f"The registration expired on {connection.webhook_expires_at:%-d %b %Y}; "
                                      "we are registering again. Until then, reconciliation every 30 minutes catches up.")
    if missing:
        return WebhookStatus(summary, f"Jira is not yet telling us about changes in {words(missing)}; "
                                      f"registering is pending.{retry}")
    return WebhookStatus(summary)
