"""Settings → Integrations: connect, choose a site, sync rules, disconnect. Thin: each calls one service."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from allyproof.accounts.decorators import admin_required, member_required
from allyproof.core import impact as impacts
from allyproof.monitoring.selectors import site_get

from allyproof.integrations.jira.connection import lifecycle as connection_service
from allyproof.integrations.jira.outbound import projects
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.outbound import triage
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection, JiraSyncLog
from allyproof.integrations.jira.sync_log import OUTCOMES, sync_log_for_connection
from allyproof.integrations.jira.inbound.sync_status import webhook_status
from allyproof.integrations.jira.tasks import webhook_verify_task
from allyproof.integrations.jira.models import SiteSyncRule
from allyproof.integrations.jira.outbound.rules import PROJECT_KEY
from allyproof.integrations.jira.ui.selectors import SyncRow, connection_current, sync_rows

IMPACT_CHOICES = impacts.Impact.choices


def _session_key(request) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def integrations_context(request, *, rule_errors=None, posted=None) -> dict:
    organization = request.membership.organization
    connection = connection_current(organization=organization)
    rows = []
    if connection is not None and connection.status != JiraConnection.Status.CHOOSING_SITE:
        rows = sync_rows(organization=organization, connection=connection)
        by_site = {p.site_id: p for p in posted or []}
        for row in rows:
            row.errors = (rule_errors or {}).get(row.site.pk, [])
            if row.site.pk in by_site:  # show what was posted, not what is stored
                p = by_site[row.site.pk]
                row.rule.enabled, row.rule.project_key, row.rule.auto_push = p.enabled, p.project_key, p.auto_push
                row.rule.severities, row.rule.issue_type_name = sorted(p.severities), p.issue_type
                row.rule.priorities, row.rule.extra_labels = p.triage.priorities, list(p.triage.labels)
                row.rule.components = list(p.triage.components)
    picker = _project_picker(connection, rows) if request.membership.is_admin else None
    return {
        "connection": connection,
        "project_list": picker,
        "is_admin": request.membership.is_admin,
        "webhook_url": webhooks.webhook_url(connection) if connection is not None else "",
        "rows": rows,
        "impacts": IMPACT_CHOICES,
        **_sync_context(request, connection),
    }


def _sync_context(request, connection) -> dict:
    if connection is None or connection.status == JiraConnection.Status.CHOOSING_SITE:
        return {}
    outcome, direction = request.GET.get("log_outcome", ""), request.GET.get("log_direction", "")
    return {
        "webhook_status": webhook_status(connection=connection),
        "sync_log": sync_log_for_connection(connection=connection, outcome=outcome, direction=direction),
        "log_outcome": outcome, "log_direction": direction, "log_outcomes": OUTCOMES,
        "log_directions": JiraSyncLog.Direction.choices,
    }


def _project_picker(connection, rows):
    """The projects the connection can create issues in (a datalist for the key field), and each row's
    project's issue types (a select); typed keys still work when Jira cannot be read."""
    if connection is None or not connection.is_active:
        return None
    client = client_for(connection)
    listing = projects.creatable_projects(connection=connection, client=client)
    known = {p.key for p in listing.projects}
    for row in rows:
        key = row.rule.project_key
        row.issue_types = projects.issue_type_names(connection=connection, client=client, project_key=key) \
            if key and (key in known or listing.problem) else []
        row.offer = projects.create_offer(connection=connection, client=client, project_key=key,
                                          issue_type_id=row.rule.issue_type_id) if row.issue_types and row.rule.issue_type_id else None
    return listing


@admin_required
def project_issue_types(request):
    """The issue-type control of one sync-rules row for the key typed or picked (fetched by app.js
    when the key changes; without JavaScript the page shows the saved project's types)."""
    connection = connection_current(organization=request.membership.organization)
    site_id = request.GET.get("site", "")
    site = site_get(organization=request.membership.organization, site_id=int(site_id) if site_id.isdigit() else 0)
    key = request.GET.get("project", "").strip()
    rule = SiteSyncRule(site=site, project_key=key, issue_type_name=request.GET.get("current", ""))
    row = SyncRow(site=site, rule=rule, pushable=None)
    row.issue_types = []
    if connection is not None and connection.is_active and PROJECT_KEY.match(key):
        row.issue_types = projects.issue_type_names(connection=connection, client=client_for(connection), project_key=key)
    if rule.issue_type_name not in row.issue_types:
        rule.issue_type_name = ""
    return render(request, "jira/_issue_type_control.html", {"row": row, "is_admin": True})


@member_required
def integrations(request):
    return render(request, "jira/integrations.html", integrations_context(request))


@require_POST
@admin_required
def connect(request):
    try:
        url = connection_service.connect_start(membership=request.membership, session_key=_session_key(request))
    except connection_service.ConnectError as problem:
        messages.error(request, str(problem))
        return redirect("integrations")
    return redirect(url)


@member_required
def oauth_callback(request):
    try:
        result = connection_service.connect_complete(
            user=request.user, session_key=_session_key(request), state=request.GET.get("state"),
            code=request.GET.get("code"), error=request.GET.get("error"),
        )
    except connection_service.ConnectError as problem:
        messages.error(request, str(problem))
        return redirect("integrations")
    if result.connection.is_active:  # a reconnect: check Jira still has the registration the rules need
        connection_id = result.connection.pk
        transaction.on_commit(lambda: webhook_verify_task(connection_id))
    if result.needs_site_choice:
        messages.info(request, "Your Atlassian account can reach several Jira sites: pick the one for this organization.")
    else:
        messages.success(request, f"Connected to {result.connection.site_name}. Every site starts opted out: enable the ones you want under Sync rules.")
    return redirect("integrations")


@require_POST
@admin_required
def choose_site(request):
    connection = connection_current(organization=request.membership.organization)
    if connection is None:
        raise Http404("No Jira connection.")
    try:
        connection = connection_service.connect_choose_site(connection=connection, cloud_id=request.POST.get("cloud_id", ""))
    except connection_service.ConnectError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"Connected to {connection.site_name}. Every site starts opted out: enable the ones you want under Sync rules.")
    return redirect("integrations")


@admin_required
def disconnect(request):
    connection = connection_current(organization=request.membership.organization)
    if connection is None:
        messages.info(request, "Jira is not connected.")
        return redirect("integrations")
    if request.method != "POST":
        return render(request, "jira/disconnect_confirm.html", {"connection": connection})

    def delete_webhook(conn: JiraConnection) -> None:
        webhooks.webhook_delete(connection=conn, client=client_for(conn))

    connection_service.connection_disconnect(connection=connection, by=request.user, delete_webhook=delete_webhook)
    messages.success(request, f"Disconnected from {connection.site_name or 'Jira'}. Existing links are kept as history.")
    return redirect("integrations")


@require_POST
@admin_required
def rules_save(request):
    organization = request.membership.organization
    connection = connection_current(organization=organization)
    if connection is None or not connection.is_active:
        messages.error(request, "Connect Jira before configuring sync rules.")
        return redirect("integrations")
    inputs = [rules.RuleInput(
        site_id=int(site_id), enabled=request.POST.get(f"site-{site_id}-enabled") == "on",
        project_key=request.POST.get(f"site-{site_id}-project", "").strip(),
        severities=frozenset(request.POST.getlist(f"site-{site_id}-severities")),
        issue_type=request.POST.get(f"site-{site_id}-issue_type", "").strip(),
        auto_push=request.POST.get(f"site-{site_id}-auto_push") == "on",
        triage=triage.from_post(request.POST, int(site_id)),
        regression_policy=request.POST.get(f"site-{site_id}-regression", "comment"),
    ) for site_id in request.POST.getlist("site") if site_id.isdigit()]
    client = client_for(connection)
    result = rules.rules_save(connection=connection, inputs=inputs, by=request.user, client=client)
    if not result.ok:
        context = integrations_context(request, rule_errors=result.errors, posted=inputs)
        messages.error(request, "Nothing was saved: fix the rows marked below.")
        return render(request, "jira/integrations.html", context, status=400)
    messages.success(request, "Sync rules saved.")
    if result.projects_changed:
        try:
            webhooks.webhook_sync(connection=connection, client=client)
        except JiraError as problem:
            messages.warning(request, f"Saved, but registering for status updates failed: {problem}. We'll retry.")
    return redirect("integrations")
