"""auth.atlassian.com and api.atlassian.com endpoints: /authorize (consent), /oauth/token,
/oauth/token/accessible-resources and /me."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlparse

from .tokens import OAuthError
from .web import Request, Response, html_response, json_response, redirect

if TYPE_CHECKING:
    from .app import Sandbox

AUTHORIZE_REQUIRED = ("audience", "client_id", "scope", "redirect_uri", "state", "response_type", "prompt")
CONFLUENCE_SCOPES = ["read:confluence-content.summary", "search:confluence"]


def _redirect_back(redirect_uri: str, **params: str) -> Response:
    sep = "&" if urlparse(redirect_uri).query else "?"
    return redirect(redirect_uri + sep + urlencode(params))


def _error_page(message: str, status: int = 400) -> Response:
    return html_response(f"<!doctype html><html lang='en'><title>Authorization error</title>"
                         f"<main><h1>Something went wrong</h1><p>{html.escape(message)}</p></main></html>", status)


def authorize_params_error(sb: Sandbox, p: dict[str, str]) -> Response | None:
    """Parameters are checked as Atlassian documents them; errors that make the redirect
    untrustworthy show a page, the rest go back to the app."""
    missing = [k for k in ("client_id", "redirect_uri") if not p.get(k)]
    if missing:
        return _error_page(f"Missing required parameter(s): {', '.join(missing)}")
    if p["client_id"] != sb.cfg.client_id:
        return _error_page("Invalid client_id: no app has this client id.")
    uri = p["redirect_uri"]
    if urlparse(uri).scheme not in ("http", "https") or (sb.cfg.redirect_uris and uri not in sb.cfg.redirect_uris):
        return _error_page("redirect_uri does not match the app's callback URL.")
    missing = [k for k in AUTHORIZE_REQUIRED if not p.get(k)]
    if missing:
        return _error_page(f"Missing required parameter(s): {', '.join(missing)}")
    if p["audience"] != "api.atlassian.com":
        return _error_page("audience must be api.atlassian.com")
    if p["response_type"] != "code":
        return _redirect_back(uri, error="unsupported_response_type", state=p["state"])
    if p["prompt"] != "consent":
        return _error_page("prompt must be consent")
    unknown = [s for s in p["scope"].split() if s not in sb.cfg.app_scopes]
    if unknown:
        return _redirect_back(uri, error="invalid_scope", state=p["state"],
                              error_description=f"Scopes not added to the app: {' '.join(unknown)}")
    return None


def authorize(sb: Sandbox, req: Request) -> Response:
    p = {k: v[0] for k, v in req.query.items()}
    problem = authorize_params_error(sb, p)
    if problem:
        return problem
    if sb.auto_approve:
        account = sb.cfg.accounts[0].account_id
        return _approve(sb, p, account, [s.cloud_id for s in sb.cfg.sites])
    return html_response(consent_page(sb, p))


def authorize_decision(sb: Sandbox, req: Request) -> Response:
    form = req.form()
    p = {k: form.get(k, [""])[0] for k in AUTHORIZE_REQUIRED}
    problem = authorize_params_error(sb, p)
    if problem:
        return problem
    if form.get("decision", [""])[0] != "accept":
        return _redirect_back(p["redirect_uri"], error="access_denied", state=p["state"],
                              error_description="The user did not grant access")
    sites = [c for c in form.get("site", []) if sb.cfg.site(c)]
    account = form.get("account", [""])[0]
    if not sites or not sb.cfg.account(account):
        return _error_page("Choose an account and at least one site.")
    return _approve(sb, p, account, sites)


def _approve(sb: Sandbox, p: dict[str, str], account_id: str, cloud_ids: list[str]) -> Response:
    scopes = p["scope"].split()
    with sb.lock:
        grant = sb.oauth.grant(account_id, scopes, cloud_ids)
        code = sb.oauth.issue_code(grant, p["redirect_uri"], scopes)
    return _redirect_back(p["redirect_uri"], code=code, state=p["state"])


def consent_page(sb: Sandbox, p: dict[str, str]) -> str:
    hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(p[k], quote=True)}'>"
                     for k in AUTHORIZE_REQUIRED)
    scopes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in p["scope"].split())
    accounts = "".join(f"<option value='{html.escape(a.account_id)}'>{html.escape(a.display_name)}</option>"
                       for a in sb.cfg.accounts)
    sites = "".join(
        f"<li><label><input type='checkbox' name='site' value='{s.cloud_id}' checked> "
        f"{html.escape(s.name)} <small>({html.escape(s.url)})</small></label></li>" for s in sb.cfg.sites)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Authorize {html.escape(p['client_id'])} — Jira sandbox</title></head>
<body><main><h1>{html.escape(p['client_id'])} is requesting access to your Atlassian account</h1>
<form method="post" action="/authorize">{hidden}
<h2>It will be able to</h2><ul>{scopes}</ul>
<p><label for="account">Signed in as</label> <select id="account" name="account">{accounts}</select></p>
<fieldset><legend>Use app on</legend><ul>{sites}</ul></fieldset>
<button type="submit" name="decision" value="accept">Accept</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form></main></body></html>"""


def token(sb: Sandbox, req: Request) -> Response:
    try:
        body = _token_body(req)
        with sb.lock:
            sb.oauth.check_client(body.get("client_id"), body.get("client_secret"))
            grant_type = body.get("grant_type")
            if grant_type == "authorization_code":
                return json_response(sb.oauth.exchange_code(body.get("code"), body.get("redirect_uri")))
            if grant_type == "refresh_token":
                return json_response(sb.oauth.refresh(body.get("refresh_token")))
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    except OAuthError as exc:
        return json_response({"error": exc.error, "error_description": exc.description}, exc.status)


def _token_body(req: Request) -> dict[str, Any]:
    """Atlassian documents JSON; form encoding (RFC 6749) is accepted too."""
    if req.content_type == "application/x-www-form-urlencoded":
        return {k: v[0] for k, v in req.form().items()}
    try:
        body = req.json()
    except ValueError:
        raise OAuthError(400, "invalid_request", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise OAuthError(400, "invalid_request", "Request body must be a JSON object")
    return body


def accessible_resources(sb: Sandbox, req: Request) -> Response:
    tok = sb.oauth.authenticate(req.headers.get("authorization"))
    if tok is None:
        return json_response({"code": 401, "message": "Unauthorized"}, 401)
    grant = sb.oauth.store.grants[tok.grant_id]
    jira_scopes = [s for s in tok.scopes if s.endswith(":jira-work") or s.endswith(":jira-user")
                   or s.endswith(":jira-webhook") or s.endswith(":jira")]
    out = []
    for cloud_id in grant.cloud_ids:
        site = sb.cfg.site(cloud_id)
        if site is None:
            continue
        avatar = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/triangle.png"
        out.append({"id": site.cloud_id, "url": site.url, "name": site.name, "scopes": jira_scopes,
                    "avatarUrl": avatar})
        if site.confluence:
            # "the id is not unique across containers": a Confluence entry shares the site's id.
            out.append({"id": site.cloud_id, "url": site.url, "name": site.name,
                        "scopes": CONFLUENCE_SCOPES, "avatarUrl": avatar})
    return json_response(out)


def me(sb: Sandbox, req: Request) -> Response:
    tok = sb.oauth.authenticate(req.headers.get("authorization"))
    if tok is None:
        return json_response({"code": 401, "message": "Unauthorized"}, 401)
    account = sb.cfg.account(sb.oauth.store.grants[tok.grant_id].account_id)
    return json_response({"account_id": account.account_id, "email": account.email, "name": account.display_name,
                          "nickname": account.display_name.split()[0], "account_status": "active",
                          "account_type": "atlassian", "picture": ""})
