"""OAuth 2.0 (3LO) grants, codes and tokens with Atlassian's rotating refresh-token rules."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .config import SandboxConfig

INVALID_REFRESH = "Unknown or invalid refresh token."


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class Grant:
    id: str
    account_id: str
    client_id: str
    scopes: list[str]
    cloud_ids: list[str]
    created: float
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    grant_id: str
    redirect_uri: str
    scopes: list[str]
    expires: float
    used: bool = False


@dataclass
class AccessToken:
    token: str
    grant_id: str
    scopes: list[str]
    expires: float
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    family_created: float     # absolute expiry counts from the first token of the family
    issued: float             # inactivity expiry counts from here
    replaced_at: float | None = None  # set when rotated; reuse within leeway is tolerated
    revoked: bool = False
    # One chain per code exchange: two apps' installs (two organizations) consented by one Atlassian
    # account share the grant but rotate their own refresh tokens independently.
    family: str = ""


@dataclass
class TokenStore:
    grants: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)


class OAuth:
    def __init__(self, cfg: SandboxConfig, store: TokenStore, clock: Clock) -> None:
        self.cfg, self.store, self.clock = cfg, store, clock

    def grant(self, account_id: str, scopes: list[str], cloud_ids: list[str]) -> Grant:
        """One grant per app per Atlassian account; consenting again widens the sites it covers."""
        existing = next((g for g in self.store.grants.values() if g.account_id == account_id
                         and g.client_id == self.cfg.client_id and not g.revoked), None)
        if existing:
            existing.scopes = list(scopes)
            existing.cloud_ids = sorted(set(existing.cloud_ids) | set(cloud_ids))
            return existing
        g = Grant(secrets.token_hex(8), account_id, self.cfg.client_id, list(scopes), list(cloud_ids),
                  self.clock.now())
        self.store.grants[g.id] = g
        return g

    def issue_code(self, grant: Grant, redirect_uri: str, scopes: list[str]) -> str:
        code = "sbx-code-" + secrets.token_urlsafe(24)
        self.store.codes[code] = AuthCode(code, grant.id, redirect_uri, list(scopes),
                                          self.clock.now() + self.cfg.timing.code_ttl)
        return code

    def check_client(self, client_id: Any, client_secret: Any) -> None:
        if client_id != self.cfg.client_id or client_secret != self.cfg.client_secret:
            # jira.js: a wrong client secret yields access_denied at the token endpoint.
            raise OAuthError(401, "access_denied", "Unauthorized")

    def exchange_code(self, code: Any, redirect_uri: Any) -> dict[str, Any]:
        auth = self.store.codes.get(code) if isinstance(code, str) else None
        now = self.clock.now()
        if auth is None or auth.used or auth.expires < now:
            raise OAuthError(403, "invalid_grant", "Invalid authorization code")
        auth.used = True  # single use, whatever happens next
        if redirect_uri != auth.redirect_uri:
            raise OAuthError(403, "invalid_grant", "redirect_uri does not match the authorization request")
        grant = self.store.grants[auth.grant_id]
        if grant.revoked:
            raise OAuthError(403, "invalid_grant", "Invalid authorization code")
        return self._token_response(grant, auth.scopes, family_created=now, family=secrets.token_hex(8))

    def refresh(self, token: Any) -> dict[str, Any]:
        now, timing = self.clock.now(), self.cfg.timing
        rt = self.store.refresh.get(token) if isinstance(token, str) else None
        if rt is None or rt.revoked or self.store.grants[rt.grant_id].revoked:
            raise OAuthError(403, "invalid_grant", INVALID_REFRESH)
        grant = self.store.grants[rt.grant_id]
        expired = now - rt.issued > timing.refresh_inactivity or (
            timing.refresh_absolute is not None and now - rt.family_created > timing.refresh_absolute)
        if expired:
            raise OAuthError(403, "invalid_grant", INVALID_REFRESH)
        if rt.replaced_at is not None and now - rt.replaced_at > timing.refresh_leeway:
            # "Reuse of old tokens outside the leeway interval invalidates all refresh tokens,
            # and requires the user to re-consent."
            self.revoke_grant(grant.id)
            raise OAuthError(403, "invalid_grant", INVALID_REFRESH)
        for other in self.store.refresh.values():
            if other.grant_id == grant.id and other.family == rt.family and other.replaced_at is None:
                other.replaced_at = now
        return self._token_response(grant, grant.scopes, family_created=rt.family_created, family=rt.family)

    def revoke_grant(self, grant_id: str) -> None:
        self.store.grants[grant_id].revoked = True
        for tok in list(self.store.access.values()) + list(self.store.refresh.values()):
            if tok.grant_id == grant_id:
                tok.revoked = True

    def _token_response(self, grant: Grant, scopes: list[str], *, family_created: float,
                        family: str = "") -> dict[str, Any]:
        now, ttl = self.clock.now(), self.cfg.timing.access_token_ttl
        access = AccessToken("sbx-at-" + secrets.token_urlsafe(32), grant.id, list(scopes), now + ttl)
        self.store.access[access.token] = access
        body: dict[str, Any] = {"access_token": access.token, "expires_in": int(ttl),
                                "scope": " ".join(scopes), "token_type": "Bearer"}
        if "offline_access" in scopes:
            rt = RefreshToken("sbx-rt-" + secrets.token_urlsafe(32), grant.id, family_created, now, family=family)
            self.store.refresh[rt.token] = rt
            body["refresh_token"] = rt.token
        self._forget_dead(now)
        return body

    def _forget_dead(self, now: float) -> None:
        """Keep memory bounded in long demos: drop access tokens a day past expiry."""
        for tok in [t for t, a in self.store.access.items() if a.expires < now - 86400]:
            del self.store.access[tok]

    def authenticate(self, header: str | None) -> AccessToken | None:
        """The live access token of an `Authorization: Bearer` header, else None."""
        if not header or not header.startswith("Bearer "):
            return None
        tok = self.store.access.get(header[7:].strip())
        if tok is None or tok.revoked or tok.expires <= self.clock.now():
            return None
        if self.store.grants[tok.grant_id].revoked:
            return None
        return tok
