from __future__ import annotations

from .selectors import membership_current

SESSION_KEY = "organization_id"


class CurrentOrganizationMiddleware:
    """Puts the signed-in user's current membership on `request.membership` (or None)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        if request.user.is_authenticated:
            request.membership = membership_current(
                user=request.user, organization_id=request.session.get(SESSION_KEY)
            )
        return self.get_response(request)
