"""A small web page to watch and drive the sandbox by hand: sites, projects, issues, transitions,
comments and the webhook deliveries each issue caused."""
from __future__ import annotations

import html
from datetime import datetime, UTC
from typing import TYPE_CHECKING, Any

from .web import Request, Response, Route, html_response, redirect

if TYPE_CHECKING:
    from .app import Sandbox

e = html.escape
CSS = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#172b4d}"
       "table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #dfe1e6;padding:.4rem;"
       "text-align:left}.new{background:#dfe1e6}.indeterminate{background:#deebff}.done{background:#e3fcef}"
       ".lozenge{padding:0 .4rem;border-radius:3px;font-weight:600;font-size:.8rem}button{margin:.2rem}")


def _page(title: str, body: str) -> Response:
    return html_response(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}"
                         f" — Jira sandbox</title><style>{CSS}</style></head><body><header><a href='/'>"
                         f"Jira Cloud sandbox</a></header><main>{body}</main></body></html>")


def _site(sb: Sandbox, slug: str) -> Any:
    return next((s for s in sb.cfg.sites if s.slug == slug), None)


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _lozenge(status: dict[str, Any]) -> str:
    return f"<span class='lozenge {e(status['statusCategory']['key'])}'>{e(status['name'])}</span>"


def index(sb: Sandbox, req: Request) -> Response:
    sites = "".join(f"<li><a href='/sites/{e(s.slug)}'>{e(s.name)}</a> <small>cloud id {e(s.cloud_id)}</small>"
                    f"</li>" for s in sb.cfg.sites)
    return _page("Sites", f"<h1>Sites</h1><ul>{sites}</ul><p>Auto-approve OAuth: {sb.auto_approve}. "
                          f"Conformance checks: {'on' if sb.conformance.enabled else 'off'} "
                          f"({len(sb.conformance.failures)} failures).</p>"
                          f"<p><a href='/ui/deliveries'>All webhook deliveries</a></p>")


def site_page(sb: Sandbox, req: Request) -> Response:
    site = _site(sb, req.params["slug"])
    if site is None:
        return _page("Not found", "<h1>No such site</h1>")
    rows = "".join(
        f"<tr><td><a href='/sites/{site.slug}/browse/{e(i['key'])}'>{e(i['key'])}</a></td>"
        f"<td>{e(i['fields']['summary'])}</td><td>{e(i['fields']['issuetype']['name'])}</td>"
        f"<td>{_lozenge(i['fields']['status'])}</td></tr>" for i in reversed(sb.issues(site.cloud_id)))
    projects = "".join(f"<li>{e(p.key)} — {e(p.name)} ({', '.join(map(e, p.issue_types))})</li>"
                       for p in sb.state.sites[site.cloud_id].projects)
    return _page(site.name, f"<h1>{e(site.name)}</h1><h2>Projects</h2><ul>{projects}</ul><h2>Issues</h2>"
                            f"<table><thead><tr><th scope='col'>Key</th><th scope='col'>Summary</th>"
                            f"<th scope='col'>Type</th><th scope='col'>Status</th></tr></thead>"
                            f"<tbody>{rows}</tbody></table>")


def _adf_text(node: Any) -> str:
    if isinstance(node, dict):
        if node.get("type") == "text":
            return node.get("text", "")
        inner = "".join(_adf_text(c) for c in node.get("content", []))
        block = node.get("type") in ("paragraph", "heading", "codeBlock", "listItem")
        return inner + ("\n" if block else "")
    return ""


def issue_page(sb: Sandbox, req: Request) -> Response:
    site = _site(sb, req.params["slug"])
    try:
        issue = sb.get_issue(site.cloud_id, req.params["key"]) if site else None
    except LookupError:
        issue = None
    if issue is None:
        return _page("Not found", "<h1>Issue does not exist</h1>")
    f, key = issue["fields"], issue["key"]
    buttons = "".join(f"<button name='status' value='{e(s.name)}'>{e(s.name)}</button>"
                      for s in sb.cfg.statuses if s.name != f["status"]["name"])
    comments = "".join(f"<li><strong>{e(c['author']['displayName'])}</strong>: "
                       f"<pre>{e(_adf_text(c['body']))}</pre></li>" for c in f["comment"]["comments"])
    rows = "".join(f"<tr><td>{_ts(a.time)}</td><td>{e(a.event)}</td><td>{a.attempt}</td><td>{a.status}</td>"
                   f"<td><code>{e(a.identifier)}</code></td></tr>"
                   for a in sb.deliveries if a.issue_key == key)
    action = f"/sites/{site.slug}/browse/{e(key)}"
    body = (f"<h1>{e(key)}: {e(f['summary'])}</h1><p>Status {_lozenge(f['status'])} · "
            f"{e(f['issuetype']['name'])} · labels {e(', '.join(f['labels']) or '—')}</p>"
            f"<h2>Description</h2><pre>{e(_adf_text(f['description']))}</pre>"
            f"<h2>Move to</h2><form method='post' action='{action}'><input type='hidden' name='action' "
            f"value='transition'>{buttons}</form>"
            f"<h2>Comments</h2><ul>{comments}</ul><form method='post' action='{action}'>"
            f"<input type='hidden' name='action' value='comment'><label for='text'>Add a comment</label> "
            f"<input id='text' name='text' required><button>Comment</button></form>"
            f"<h2>Webhook deliveries caused</h2><table><thead><tr><th scope='col'>Time</th><th scope='col'>"
            f"Event</th><th scope='col'>Retry</th><th scope='col'>Status</th><th scope='col'>Identifier</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
            f"<form method='post' action='{action}'><input type='hidden' name='action' value='delete'>"
            f"<button>Delete issue</button></form>")
    return _page(key, body)


def issue_action(sb: Sandbox, req: Request) -> Response:
    site = _site(sb, req.params["slug"])
    form = {k: v[0] for k, v in req.form().items()}
    key, action = req.params["key"], form.get("action")
    if site is None:
        return _page("Not found", "<h1>No such site</h1>")
    if action == "transition":
        sb.transition_issue(site.cloud_id, key, form["status"])
    elif action == "comment" and form.get("text"):
        sb.add_comment(site.cloud_id, key, form["text"])
    elif action == "delete":
        sb.delete_issue(site.cloud_id, key)
        sb.deliver_pending()
        return redirect(f"/sites/{site.slug}", 303)
    sb.deliver_pending()  # so the page shows the delivery right away
    return redirect(f"/sites/{site.slug}/browse/{key}", 303)


def deliveries_page(sb: Sandbox, req: Request) -> Response:
    rows = "".join(f"<tr><td>{_ts(a.time)}</td><td>{e(a.issue_key)}</td><td>{e(a.event)}</td>"
                   f"<td>{a.attempt}</td><td>{a.status}</td><td>{e(a.url)}</td><td>{e(a.error or '')}</td></tr>"
                   for a in reversed(sb.deliveries))
    return _page("Deliveries", "<h1>Webhook deliveries</h1><table><thead><tr><th scope='col'>Time</th>"
                               "<th scope='col'>Issue</th><th scope='col'>Event</th><th scope='col'>Retry</th>"
                               "<th scope='col'>Status</th><th scope='col'>URL</th><th scope='col'>Error</th>"
                               f"</tr></thead><tbody>{rows}</tbody></table>")


def routes(sb: Sandbox) -> list[Route]:
    def bind(fn: Any) -> Any:
        return lambda r: fn(sb, r)
    return [
        Route("GET", "/", bind(index)),
        Route("GET", "/ui/deliveries", bind(deliveries_page)),
        Route("GET", "/sites/{slug}", bind(site_page)),
        Route("GET", "/sites/{slug}/browse/{key}", bind(issue_page)),
        Route("POST", "/sites/{slug}/browse/{key}", bind(issue_action)),
    ]
