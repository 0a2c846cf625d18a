"""Reads for the Jira integration pages."""

from __future__ import annotations

from allyproof.accounts.models import Organization

from .connection import connection_current
from .models import JiraConnection

__all__ = ["connection_current", "connection_banner"]


def connection_banner(*, organization: Organization) -> JiraConnection | None:
    """The connection when it needs an admin's attention (shown as a banner on every page)."""
    connection = connection_current(organization=organization)
    if connection is not None and connection.status == JiraConnection.Status.NEEDS_RECONNECT:
        return connection
    return None
