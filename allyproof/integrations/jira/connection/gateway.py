"""Builds the JiraClient for a connection: tokens from the vault, pacing from the shared gate."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from allyproof.core import clock

from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.connection import tokens
from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.models import JiraConnection


def client_for(connection: JiraConnection, *, gate: pacing.Gate | None = None,
               max_wait: float | None = None) -> JiraClient:
    """`max_wait`: for a request a person is waiting on, raise GateBusy rather than wait longer."""
    gate = gate or pacing.default_gate()
    cache = _TokenCache(connection.pk)
    return JiraClient(
        api_url=settings.CONFIG.atlassian_api_url,
        cloud_id=connection.cloud_id,
        token=cache.get,
        refresh_token=cache.refresh,
        before_call=lambda site: gate.wait(site, max_wait),
        on_rate_limited=lambda site, limited: pacing.pause_for(gate, site, limited),
        on_response=_accounting(getattr(gate, "budget", None)),
        timeout=settings.CONFIG.jira_http_timeout_seconds,
    )


def _accounting(budget):
    """Charges every answered call to the points pools and reads what Atlassian says is left."""
    if budget is None:
        return None

    def record(site: str, method: str, response) -> None:
        body = None
        if method.upper() == "GET" and response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
        budget.record(site, method=method, status=response.status_code, headers=response.headers, body=body)

    return record


class _TokenCache:
    """Keeps the access token for the client's lifetime (a job, a request) instead of reading and
    decrypting the row before every call; a 401 or the approaching expiry goes back to the vault."""

    def __init__(self, connection_id: int):
        self.connection_id = connection_id
        self.token: str | None = None
        self.until = None

    def get(self) -> str:
        if self.token is None or self.until is None or clock.now() >= self.until:
            self.token = tokens.access_token(self.connection_id)
            expires = JiraConnection.objects.filter(pk=self.connection_id).values_list("access_expires_at", flat=True).first()
            self.until = expires - tokens.REFRESH_MARGIN if expires else None
        return self.token

    def refresh(self) -> str:
        self.token = tokens.refresh(self.connection_id, rejected_token=self.get())
        self.until = clock.now() + dt.timedelta(minutes=5)  # re-read the stored expiry soon
        return self.token
