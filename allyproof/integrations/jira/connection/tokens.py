"""Access tokens for a connection, refreshed safely across processes.

Atlassian rotates the refresh token on every use and, outside a 10-minute leeway, treats reuse of an
old one as a breach and revokes the whole grant. So a refresh happens under the connection's row
lock, re-reads the row after taking it (another process may have refreshed meanwhile), and stores
the new pair in one update. One token-endpoint call per expiry, however many workers race.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction

from allyproof.core import clock

from allyproof.integrations.jira.connection import vault
from allyproof.integrations.jira.connection.client import AtlassianOAuth, TokenGrant
from allyproof.integrations.jira.connection.errors import NeedsReconnect, NotConnected
from allyproof.integrations.jira.models import JiraConnection

log = logging.getLogger(__name__)
REFRESH_MARGIN = dt.timedelta(minutes=2)


def oauth() -> AtlassianOAuth:
    config = settings.CONFIG
    return AtlassianOAuth(
        auth_url=config.atlassian_auth_url, api_url=config.atlassian_api_url,
        client_id=config.atlassian_client_id, client_secret=config.atlassian_client_secret,
    )


def store_grant(connection: JiraConnection, grant: TokenGrant) -> None:
    """Seals and saves a token pair (the caller holds the row or just created it)."""
    connection.access_token = vault.seal(connection, "access_token", grant.access_token)
    if grant.refresh_token:  # absent means "keep the one you have" (Atlassian's own sample does this)
        connection.refresh_token = vault.seal(connection, "refresh_token", grant.refresh_token)
    connection.access_expires_at = clock.now() + dt.timedelta(seconds=grant.expires_in)
    connection.tokens_refreshed_at = clock.now()
    connection.save(update_fields=["access_token", "refresh_token", "access_expires_at", "tokens_refreshed_at"])


def _usable(connection: JiraConnection) -> None:
    if connection.status == JiraConnection.Status.NEEDS_RECONNECT:
        raise NeedsReconnect("The Jira connection needs to be reconnected by an admin.")
    if not connection.is_active:
        raise NotConnected("Jira is not connected.")


def access_token(connection_id: int) -> str:
    connection = JiraConnection.objects.get(pk=connection_id)
    _usable(connection)
    if connection.access_expires_at and connection.access_expires_at > clock.now() + REFRESH_MARGIN:
        return vault.open_(connection, "access_token")
    return refresh(connection_id)


def refresh(connection_id: int, *, rejected_token: str | None = None) -> str:
    """A fresh access token. `rejected_token` is one Jira just refused: refresh even if unexpired,
    unless another process already replaced it."""
    failure: NeedsReconnect | None = None
    with transaction.atomic():
        connection = JiraConnection.objects.select_for_update().get(pk=connection_id)
        _usable(connection)
        current = vault.open_(connection, "access_token")
        fresh = connection.access_expires_at and connection.access_expires_at > clock.now() + REFRESH_MARGIN
        if fresh and (rejected_token is None or rejected_token != current):
            return current
        try:
            grant = oauth().refresh(refresh_token=vault.open_(connection, "refresh_token"))
        except NeedsReconnect as error:
            connection.status = JiraConnection.Status.NEEDS_RECONNECT
            connection.reconnect_reason = str(error)[:300]
            connection.save(update_fields=["status", "reconnect_reason"])
            log.warning("jira.token_refresh.invalid_grant connection=%s", connection_id)
            failure = error
        else:
            store_grant(connection, grant)
            log.info("jira.token_refresh.ok connection=%s", connection_id)
            return grant.access_token
    raise NeedsReconnect("Atlassian no longer accepts this connection's grant; an admin must reconnect.") from failure
