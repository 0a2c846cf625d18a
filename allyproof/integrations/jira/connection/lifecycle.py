"""Connecting an organization to its one Jira Cloud site, and disconnecting it (DESIGN §6)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from django.urls import reverse

from allyproof.accounts.models import Membership, Organization, User
from allyproof.core import clock
from allyproof.monitoring.models import Site

from allyproof.integrations.jira.connection import tokens
from allyproof.integrations.jira.connection.client import AccessibleSite
from allyproof.integrations.jira.connection.errors import JiraError, NeedsReconnect
from allyproof.integrations.jira.models import SCOPES, JiraConnection, OAuthState, SiteSyncRule

log = logging.getLogger(__name__)
STATE_LIFETIME = dt.timedelta(minutes=10)
JIRA_SCOPE_MARKER = ":jira-"


class ConnectError(Exception):
    """A connect attempt that must stop, with a sentence for the admin. Nothing was stored."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def callback_url() -> str:
    return settings.CONFIG.public_url + reverse("jira_oauth_callback")


def connection_current(*, organization: Organization) -> JiraConnection | None:
    return (
        JiraConnection.objects.filter(organization=organization)
        .exclude(status=JiraConnection.Status.DISCONNECTED)
        .select_related("connected_by")
        .first()
    )


@transaction.atomic
def connect_start(*, membership: Membership, session_key: str) -> str:
    """Returns Atlassian's consent URL for this admin, this browser session and this organization."""
    current = connection_current(organization=membership.organization)
    if current is not None and current.is_active:
        raise ConnectError(
            f"This organization is already connected to {current.site_name}. Disconnect it first to connect another site."
        )
    if current is not None and current.status == JiraConnection.Status.CHOOSING_SITE:
        current.delete()  # an abandoned site choice; its tokens go with it
    state = secrets.token_urlsafe(32)
    OAuthState.objects.create(
        state_hash=_hash(state), organization=membership.organization, user=membership.user,
        session_key_hash=_hash(session_key), created_at=clock.now(), expires_at=clock.now() + STATE_LIFETIME,
    )
    return tokens.oauth().authorize_url(scopes=SCOPES, redirect_uri=callback_url(), state=state)


def _claim_state(*, state: str | None, user: User, session_key: str) -> OAuthState:
    if not state:
        raise ConnectError("The reply from Atlassian had no state, so we cannot tell it was meant for you. Nothing was connected.")
    row = OAuthState.objects.select_related("organization").filter(state_hash=_hash(state)).first()
    if row is None:
        raise ConnectError("That sign-in link is not one we issued. Nothing was connected; start again from Connect Jira.")
    if row.user_id != user.pk or not secrets.compare_digest(row.session_key_hash, _hash(session_key)):
        raise ConnectError("That sign-in was started in another browser session. Nothing was connected; start again here.")
    if row.expires_at <= clock.now():
        raise ConnectError("That sign-in took too long and expired. Nothing was connected; start again from Connect Jira.")
    claimed = OAuthState.objects.filter(pk=row.pk, used_at=None).update(used_at=clock.now())
    if not claimed:
        raise ConnectError("That sign-in link was already used. Nothing more was connected.")
    return row


def _jira_sites(sites: list[AccessibleSite]) -> list[AccessibleSite]:
    # Ids repeat across products (a Confluence entry can share a Jira site's id): keep Jira entries.
    unique: dict[str, AccessibleSite] = {}
    for site in sites:
        if any(JIRA_SCOPE_MARKER in scope for scope in site.scopes) and site.id not in unique:
            unique[site.id] = site
    return list(unique.values())


@dataclass(frozen=True)
class ConnectResult:
    connection: JiraConnection
    needs_site_choice: bool


def connect_complete(
    *, user: User, session_key: str, state: str | None, code: str | None, error: str | None
) -> ConnectResult:
    """Handles Atlassian's redirect back. Raises ConnectError with a sentence for the admin."""
    claim = _claim_state(state=state, user=user, session_key=session_key)
    organization = claim.organization
    if not Membership.objects.filter(user=user, organization=organization, role__in=["owner", "admin"]).exists():
        raise ConnectError("Only an owner or admin can connect Jira.")
    if error == "access_denied":
        raise ConnectError("You cancelled on Atlassian's consent screen, so Jira was not connected.")
    if error or not code:
        raise ConnectError(f"Atlassian did not grant access ({error or 'no code'}). Nothing was connected.")
    oauth = tokens.oauth()
    try:
        grant = oauth.exchange_code(code=code, redirect_uri=callback_url())
        sites = _jira_sites(oauth.accessible_resources(access_token=grant.access_token))
    except NeedsReconnect:
        raise ConnectError("Atlassian refused that authorization code (expired or already used). Start again.") from None
    except JiraError as problem:
        raise ConnectError(f"Atlassian could not be reached to finish connecting ({problem}). Try again.") from None
    if not grant.refresh_token:
        raise ConnectError("Atlassian granted no refresh token (offline access). Nothing was connected.")
    if not sites:
        raise ConnectError("That Atlassian account granted no Jira Cloud site. Jira Server and Data Center are not supported.")
    return _store_connection(organization=organization, user=user, grant=grant, sites=sites)


def _store_connection(*, organization, user, grant, sites) -> ConnectResult:
    with transaction.atomic():
        current = connection_current(organization=organization)
        if current is not None and current.status == JiraConnection.Status.NEEDS_RECONNECT:
            connection = current  # Reconnect: same row, same links, new grant
            if current.cloud_id not in {s.id for s in sites}:
                raise ConnectError(
                    f"Reconnect with an account that can reach {current.site_name}; the grant did not include it."
                )
            connection.status, connection.reconnect_reason = JiraConnection.Status.ACTIVE, ""
            connection.save(update_fields=["status", "reconnect_reason"])
            tokens.store_grant(connection, grant)
            return ConnectResult(connection, needs_site_choice=False)
        try:
            connection = JiraConnection.objects.create(
                organization=organization, status=JiraConnection.Status.CHOOSING_SITE, connected_by=user,
                connected_at=clock.now(), scopes=grant.scope,
                available_sites=[{"id": s.id, "name": s.name, "url": s.url} for s in sites],
            )
        except IntegrityError:
            raise ConnectError("This organization is already connected to Jira. Disconnect it first.") from None
        tokens.store_grant(connection, grant)
        if len(sites) == 1:
            _activate(connection, sites[0].id)
            return ConnectResult(connection, needs_site_choice=False)
        return ConnectResult(connection, needs_site_choice=True)


def _activate(connection: JiraConnection, cloud_id: str) -> None:
    site = next((s for s in connection.available_sites if s["id"] == cloud_id), None)
    if site is None:
        raise ConnectError("Pick one of the Jira sites your account granted.")
    connection.cloud_id, connection.site_name, connection.site_url = site["id"], site["name"], site["url"]
    connection.status = JiraConnection.Status.ACTIVE
    connection.connected_at = clock.now()
    connection.save(update_fields=["cloud_id", "site_name", "site_url", "status", "connected_at"])
    # New connections start with every site opted out, so nothing routes anywhere until an admin says so.
    sites = Site.objects.filter(organization=connection.organization)
    SiteSyncRule.objects.bulk_create([SiteSyncRule(site=s) for s in sites], ignore_conflicts=True)
    SiteSyncRule.objects.filter(site__organization=connection.organization).update(enabled=False, auto_push=False)
    log.info("jira.connected connection=%s org=%s cloud=%s", connection.pk, connection.organization_id, cloud_id)


@transaction.atomic
def connect_choose_site(*, connection: JiraConnection, cloud_id: str) -> JiraConnection:
    connection = JiraConnection.objects.select_for_update().get(pk=connection.pk)
    if connection.status != JiraConnection.Status.CHOOSING_SITE:
        raise ConnectError("There is no Jira site to choose right now.")
    _activate(connection, cloud_id)
    return connection


def connection_disconnect(*, connection: JiraConnection, by: User, delete_webhook=None) -> JiraConnection:
    """Soft-deletes the connection. `delete_webhook(connection)` runs first, while the token works."""
    if delete_webhook is not None and connection.is_active and connection.webhook_ids:
        try:
            delete_webhook(connection)
        except JiraError as problem:
            # Atlassian expires an orphaned webhook after 30 days; never block a disconnect on it.
            log.warning("jira.disconnect.webhook_delete_failed connection=%s error=%s", connection.pk, problem)
    with transaction.atomic():
        connection = JiraConnection.objects.select_for_update().get(pk=connection.pk)
        connection.status = JiraConnection.Status.DISCONNECTED
        connection.access_token = connection.refresh_token = ""
        connection.access_expires_at = None
        connection.disconnected_by, connection.disconnected_at = by, clock.now()
        connection.webhook_ids, connection.webhook_jql, connection.webhook_expires_at = [], "", None
        connection.save()
        for step in _DISCONNECT_STEPS:
            import_string(step)(connection)
    log.info("jira.disconnected connection=%s by=%s", connection.pk, by.pk)
    return connection


# What else a disconnect stops, in this order, inside its transaction. Named by path because these
# live in modules that import this one.
_DISCONNECT_STEPS = ("allyproof.integrations.jira.outbound.job_control.push_jobs_cancel",)
