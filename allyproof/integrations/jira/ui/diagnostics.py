"""The Jira part of Settings → Support's diagnostics: what we and Jira said to each other lately.

Built from rows we keep anyway (connection state, push jobs and their failed items, outbound writes,
inbound events). Never a token, a ciphertext, the webhook path or the client secret.
"""

from __future__ import annotations

from allyproof.accounts.models import Organization
from allyproof.accounts.support import Section
from allyproof.accounts.templatetags.org_time import format_when

from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.models import InboundEvent, OutboundWrite, PushJob, PushJobItem, SiteSyncRule

RECENT = 20


def _t(value) -> str:
    return format_when(value) if value else "never"


def _connection(connection) -> list[str]:
    return [
        f"Status: {connection.get_status_display()}" + (f" ({connection.reconnect_reason})" if connection.reconnect_reason else ""),
        f"Jira site: {connection.site_name} {connection.site_url} (cloud id {connection.cloud_id})",
        f"Connected: {_t(connection.connected_at)}; tokens refreshed: {_t(connection.tokens_refreshed_at)}",
        f"Webhook registrations: {len(connection.webhook_ids)}; filter: {connection.webhook_jql or '(none)'}; "
        f"expires: {_t(connection.webhook_expires_at)}; last delivery: {_t(connection.last_webhook_at)}",
        *([f"Webhook error: {connection.webhook_error}"] if connection.webhook_error else []),
    ]


def _rules(organization: Organization) -> list[str]:
    rules = SiteSyncRule.objects.filter(site__organization=organization, site__active=True).select_related("site")
    return [f"{r.site.name}: {'on' if r.enabled else 'off'}, project {r.project_key or '-'}, "
            f"type {r.issue_type_name or 'default'}, severities {','.join(r.severities)}, "
            f"auto-push {'on' if r.auto_push else 'off'}" + (f"; problems: {'; '.join(r.problems)}" if r.problems else "")
            for r in rules.order_by("site__name")]


def _jobs(organization: Organization) -> list[str]:
    lines = []
    for job in PushJob.objects.filter(organization=organization).select_related("site").order_by("-created_at")[:RECENT]:
        counts = {s: job.items.filter(status=s).count() for s in PushJobItem.Status.values}
        lines.append(f"{_t(job.created_at)} job {job.pk} {job.get_kind_display()} {job.site.name} -> {job.project_key}: "
                     f"{job.get_status_display()}, " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
                     + (f" ({job.cancel_reason})" if job.cancel_reason else ""))
        for item in job.items.filter(status=PushJobItem.Status.FAILED)[:5]:
            lines.append(f"    failed violation {item.violation_id} after {item.attempts} attempt(s): {item.reason}")
    return lines


def jira_diagnostics(organization: Organization) -> list[Section]:
    connection = connection_current(organization=organization)
    if connection is None:
        return [("Jira", ["Not connected."])]
    writes = OutboundWrite.objects.filter(cloud_id=connection.cloud_id).order_by("-created_at")[:RECENT]
    events = InboundEvent.objects.filter(connection=connection).order_by("-received_at")[:RECENT]
    return [
        ("Jira connection", _connection(connection)),
        ("Sync rules", _rules(organization)),
        ("Recent pushes", _jobs(organization)),
        ("Recent writes to Jira", [f"{_t(w.created_at)} {w.kind} {w.issue_key}" + (f" (id {w.jira_id})" if w.jira_id else "")
                                   for w in writes]),
        ("Recent events from Jira", [f"{_t(e.received_at)} {e.event} {e.issue_key or e.issue_id}: {e.get_outcome_display()}"
                                     + (f" ({e.detail})" if e.detail else "") for e in events]),
    ]
