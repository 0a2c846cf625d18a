"""Atlassian's authorization server (OAuth 2.0 3LO): the consent URL, the code exchange, refresh, and the
sites a grant reaches. Sends through `transport`, like every call to Atlassian."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from allyproof.integrations.jira.connection.errors import JiraAuthError, JiraValidationError, NeedsReconnect
from allyproof.integrations.jira.connection.client.transport import json_body, send


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str


@dataclass(frozen=True)
class AccessibleSite:
    id: str
    name: str
    url: str
    scopes: tuple[str, ...]


class AtlassianOAuth:
    def __init__(self, *, auth_url: str, api_url: str, client_id: str, client_secret: str):
        self.auth_url, self.api_url = auth_url.rstrip("/"), api_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret

    def authorize_url(self, *, scopes: tuple[str, ...], redirect_uri: str, state: str) -> str:
        query = urlencode({
            "audience": "api.atlassian.com", "client_id": self.client_id, "scope": " ".join(scopes),
            "redirect_uri": redirect_uri, "state": state, "response_type": "code", "prompt": "consent",
        })
        return f"{self.auth_url}/authorize?{query}"

    def _token(self, body: dict[str, str]) -> TokenGrant:
        body = {"client_id": self.client_id, "client_secret": self.client_secret, **body}
        try:
            response = send("POST", f"{self.auth_url}/oauth/token", json=body, idempotent=False)
        except (JiraAuthError, JiraValidationError) as error:
            # By status: 400 invalid_grant and 401/403 all mean the grant or the app's secret is gone.
            raise NeedsReconnect(f"Atlassian refused the grant: {error}") from None
        data = json_body(response)
        return TokenGrant(
            access_token=data["access_token"], refresh_token=data.get("refresh_token"),
            expires_in=int(data.get("expires_in", 3600)), scope=data.get("scope", ""),
        )

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        return self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})

    def refresh(self, *, refresh_token: str) -> TokenGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def accessible_resources(self, *, access_token: str) -> list[AccessibleSite]:
        url = f"{self.api_url}/oauth/token/accessible-resources"
        data = json_body(send("GET", url, headers={"Authorization": f"Bearer {access_token}"}, idempotent=True))
        return [
            AccessibleSite(id=item["id"], name=item.get("name", ""), url=item.get("url", ""),
                           scopes=tuple(item.get("scopes", [])))
            for item in data if isinstance(item, dict) and "id" in item
        ]
