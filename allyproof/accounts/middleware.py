from __future__ import annotations

import zoneinfo

from django.utils import timezone

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
        # Every time shown is in the organization's zone; the zone is named where it is shown.
        if request.membership is not None:
            timezone.activate(_zone(request.membership.organization.time_zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
