"""The webhook receiver's own path through Django: first in MIDDLEWARE, it hands a delivery to a
connection's callback URL straight to the view and skips the rest of the stack.

The receiver reads no session, user, CSRF cookie or message, and its answer is JSON for Atlassian,
not a page: the stack behind this (sessions, auth, axes, CSRF, CSP, the organization's time zone)
cost about a sixth of a delivery's web CPU for nothing (docs/benchmarks.md, "Webhook intake").
Authentication is the JWT the view verifies; the URL token only names the connection.
"""

from __future__ import annotations

from allyproof.integrations.jira.ui import webhook_views

PREFIX = "/integrations/jira/webhook/"  # allyproof/integrations/jira/urls.py: "<str:token>/"


def receiver_token(path: str) -> str | None:
    """The URL token when the path is exactly a connection's callback URL, else None."""
    if not (path.startswith(PREFIX) and path.endswith("/")):
        return None
    token = path[len(PREFIX):-1]
    return token if token and "/" not in token else None


class WebhookReceiverMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = receiver_token(request.path_info)
        if token is None:
            return self.get_response(request)
        return webhook_views.receive(request, token)
