"""The Jira client in three parts: `transport` (the one module that sends HTTP to Atlassian, maps every
failure to an `errors.JiraError` and records every call), `oauth` (the authorization server) and `rest`
(one site's REST v3). Callers import from here; the parts are an inside arrangement."""

from allyproof.integrations.jira.connection.client.oauth import AccessibleSite, AtlassianOAuth, TokenGrant
from allyproof.integrations.jira.connection.client.rest import JiraClient, parse_expiration
from allyproof.integrations.jira.connection.client.transport import (
    call_record,
    error_for,
    send,
    transport,
    use_transport,
)

__all__ = [
    "AccessibleSite", "AtlassianOAuth", "JiraClient", "TokenGrant", "call_record", "error_for", "parse_expiration",
    "send", "transport", "use_transport",
]
