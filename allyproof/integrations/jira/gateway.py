"""Builds the JiraClient for a connection: tokens from the vault, pacing from the shared gate."""

from __future__ import annotations

from django.conf import settings

from . import pacing, tokens
from .client import JiraClient
from .models import JiraConnection


def client_for(connection: JiraConnection, *, gate: pacing.Gate | None = None,
               max_wait: float | None = None) -> JiraClient:
    """`max_wait`: for a request a person is waiting on, raise GateBusy rather than wait longer."""
    gate = gate or pacing.default_gate()
    connection_id = connection.pk

    def forced_refresh() -> str:
        return tokens.refresh(connection_id, rejected_token=tokens.access_token(connection_id))

    return JiraClient(
        api_url=settings.CONFIG.atlassian_api_url,
        cloud_id=connection.cloud_id,
        token=lambda: tokens.access_token(connection_id),
        refresh_token=forced_refresh,
        before_call=lambda site: gate.wait(site, max_wait),
    )
