"""Every failure talking to Atlassian becomes one of these; nothing else leaves the client (`client/transport.py`)."""

from __future__ import annotations

import datetime as dt


class JiraError(Exception):
    """Base class. `str()` is a sentence fit for a person (no tokens, no bodies)."""


class NeedsReconnect(JiraError):
    """The grant is gone (invalid_grant, revoked, wrong client secret): an admin must reconnect."""


class JiraAuthError(JiraError):
    """401/403 from the API with a valid grant: a missing scope or permission in Jira.

    `status` tells them apart: a 401 (`token_refused`) was refused before it ran, so one retry with a
    fresh token is safe; a 403 is Jira's permission answer and repeats the same way."""

    def __init__(self, message: str, *, status: int = 403):
        self.status = status
        super().__init__(message)

    @property
    def token_refused(self) -> bool:
        return self.status == 401


class JiraNotFound(JiraError):
    """404: no such project, issue or webhook (or one the grant cannot see)."""


class JiraValidationError(JiraError):
    """Jira refused the request's content (400/422). Not retried: the same body fails the same way."""

    def __init__(self, message: str, *, errors: dict[str, str] | None = None, messages: list[str] | None = None):
        self.errors = errors or {}
        self.messages = messages or []
        super().__init__(message)


class JiraRateLimited(JiraError):
    def __init__(self, message: str, *, reason: str, retry_after: float | None, reset_at: dt.datetime | None):
        self.reason = reason
        self.retry_after = retry_after
        self.reset_at = reset_at
        super().__init__(message)


class JiraTransientError(JiraError):
    """Jira or the network failed and the request had no effect (or is safe to repeat)."""


class JiraUnknownOutcome(JiraError):
    """A non-idempotent request may or may not have been applied (timeout, dropped connection, 5xx).

    Never repeat it blindly: look for its effect first (for a create, search by the label)."""


class NotConnected(JiraError):
    """The organization has no working Jira connection (never connected, or disconnected)."""
