"""Reads for accounts, and the access checks every view goes through.

The rule (DESIGN §5): anything reached on behalf of a user is looked up through the user's
membership; an object of another organization is indistinguishable from one that does not
exist (404), and a lack of role inside one's own organization is a 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import ApiToken, Membership, Organization, User


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


def members_for_organization(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user").order_by("user__email")


def membership_get(*, organization: Organization, membership_id: int) -> Membership:
    """A membership of this organization; another organization's answers 404."""
    found = Membership.objects.select_related("user", "organization").filter(
        organization=organization, pk=membership_id).first()
    if found is None:
        raise Http404("No such member.")
    return found


def api_tokens_for_organization(*, organization: Organization) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(organization=organization).select_related("created_by").order_by(
        "revoked_at", "-created_at")


def api_token_get(*, organization: Organization, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(organization=organization, pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    return token
