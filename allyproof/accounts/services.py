"""Writes for accounts: organizations, memberships, API tokens."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from dataclasses import dataclass

from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth import password_validation
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from allyproof.core import clock

from .models import ApiToken, Membership, Organization, Role, User


def user_get_or_create(*, email: str, password: str | None = None, display_name: str = "") -> User:
    """Raises django's ValidationError when a new account's password fails AUTH_PASSWORD_VALIDATORS.

    Every product path that creates an account comes here; Django's own (createsuperuser, changepassword,
    the admin's forms) validate themselves. The manager's create_user stays the unchecked primitive.
    """
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        if password is not None:
            password_validation.validate_password(password, User(email=email, display_name=display_name))
        user = User.objects.create_user(email, password, display_name=display_name)
    return user


@transaction.atomic
def organization_create(*, name: str, owner: User) -> Organization:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    organization = Organization.objects.create(name=name, slug=slug)
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    return organization


def membership_set(*, organization: Organization, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(Role.values)}")
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(*, organization: Organization, name: str, created_by: User | None = None) -> tuple[ApiToken, str]:
    """Returns the token row and the plaintext, which is shown once and never stored."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization, name=name, prefix=prefix, token_hash=_hash(secret), created_by=created_by
    )
    return token, f"ap_{prefix}_{secret}"


def api_token_authenticate(*, presented: str) -> ApiToken | None:
    """The token row for a presented `ap_<prefix>_<secret>`, or None (unknown, wrong or revoked)."""
    try:
        scheme, prefix, secret = presented.split("_", 2)
    except ValueError:
        return None
    if scheme != "ap":
        return None
    token = ApiToken.objects.select_related("organization").filter(prefix=prefix, revoked_at=None).first()
    if token is None or not secrets.compare_digest(token.token_hash, _hash(secret)):
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=clock.now())
    return token


def api_token_revoke(*, token: ApiToken) -> None:
    token.revoked_at = clock.now()
    token.save(update_fields=["revoked_at"])


# --- Settings: members, roles, organization -------------------------------------------------------


class SettingsRefused(Exception):
    """A settings change we refuse, with the sentence shown next to the control that asked for it."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Invitation:
    membership: Membership
    # A one-time link to choose a password, for a person who has none yet. AllyProof sends no email
    # (it runs offline by default), so the admin hands the link over; it stops working once used.
    set_password_path: str | None


def _granting_allowed(*, by: Membership, role: str) -> None:
    if role not in Role.values:
        raise SettingsRefused(f"Unknown role {role!r}.")
    if role == Role.OWNER and by.role != Role.OWNER:
        raise SettingsRefused("Only an owner can make someone an owner.")


def _set_password_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_set", args=[uid, default_token_generator.make_token(user)])


@transaction.atomic
def member_invite(*, organization: Organization, email: str, role: str, by: Membership) -> Invitation:
    _granting_allowed(by=by, role=role)
    email = User.objects.normalize_email(email.strip()).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email, None)  # an unusable password until they choose one
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is not None and user.has_usable_password():
        raise SettingsRefused(f"{email} is already a member of {organization.name}.", field="email")
    if membership is None:
        membership = Membership.objects.create(organization=organization, user=user, role=role)
    # else: invited before and never chose a password: a fresh link (the old one keeps working until used).
    link = None if user.has_usable_password() else _set_password_path(user)
    return Invitation(membership=membership, set_password_path=link)


def _owners_locked(organization_id: int) -> list[int]:
    # Locks the owner rows so two admins demoting the last two owners at once cannot both succeed.
    return list(Membership.objects.select_for_update().filter(organization_id=organization_id, role=Role.OWNER)
                .values_list("pk", flat=True))


def _may_manage(*, by: Membership, target: Membership) -> None:
    if target.role == Role.OWNER and by.role != Role.OWNER:
        raise SettingsRefused("Only an owner can change or remove an owner.")


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, by: Membership) -> Membership:
    _granting_allowed(by=by, role=role)
    _may_manage(by=by, target=membership)
    owners = _owners_locked(membership.organization_id)
    if membership.role == Role.OWNER and role != Role.OWNER and owners == [membership.pk]:
        raise SettingsRefused(f"{membership.user} is the last owner of {membership.organization.name}: "
                              "make someone else an owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: Membership) -> None:
    _may_manage(by=by, target=membership)
    owners = _owners_locked(membership.organization_id)
    if owners == [membership.pk]:
        raise SettingsRefused(f"{membership.user} is the last owner of {membership.organization.name}: "
                              "make someone else an owner first.")
    membership.delete()


def time_zones() -> set[str]:
    return zoneinfo.available_timezones()


def time_zone_valid(name: str) -> bool:
    return name in zoneinfo.available_timezones()


def organization_update(*, organization: Organization, name: str, time_zone: str) -> Organization:
    name = name.strip()
    if not name:
        raise SettingsRefused("The organization needs a name.", field="name")
    if not time_zone_valid(time_zone):
        raise SettingsRefused(f"{time_zone} is not a time zone we know (use a name like Europe/Paris).",
                              field="time_zone")
    organization.name, organization.time_zone = name[:120], time_zone
    organization.save(update_fields=["name", "time_zone"])
    return organization


def api_token_create_named(*, organization: Organization, name: str, by: User) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise SettingsRefused("Give the token a name, so you know later what uses it (e.g. \"CI uploads\").")
    if len(name) > 80:
        raise SettingsRefused("Keep the name under 80 characters.")
    return api_token_create(organization=organization, name=name, created_by=by)
