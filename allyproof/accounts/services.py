"""Writes for accounts: organizations, memberships, API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import password_validation
from django.db import transaction
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
