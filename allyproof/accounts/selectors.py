"""Reads for accounts, and the access checks every view goes through.

The rule (DESIGN §5): anything reached on behalf of a user is looked up through the user's
membership; an object of another organization is indistinguishable from one that does not
exist (404), and a lack of role inside one's own organization is a 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from .models import Membership, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")


def membership_current(*, user: User, organization_id: int | None) -> Membership | None:
    """The membership for the organization chosen in the session, else the user's first."""
    if not user.is_authenticated:
        return None
    memberships = memberships_for_user(user=user)
    if organization_id is not None:
        chosen = memberships.filter(organization_id=organization_id).first()
        if chosen is not None:
            return chosen
    return memberships.first()


def membership_require_admin(*, membership: Membership) -> Membership:
    if not membership.is_admin:
        raise PermissionDenied("Only an owner or admin of this organization can do that.")
    return membership
