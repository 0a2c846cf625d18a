from django.contrib import admin

from allyproof.integrations.jira.models import (
    InboundEvent,
    JiraConnection,
    JiraLink,
    OutboundWrite,
    PushJob,
    PushJobItem,
    SiteSyncRule,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened, for whoever investigates: viewable, never added, changed or deleted here.
    Deleting a link would defeat the dedupe (the next push would create a second issue); editing a job,
    an outbound write or an inbound event would rewrite the history the echo check and the support
    desk rely on. Without delete permission Django also drops the bulk "delete selected" action."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JiraConnection)
class JiraConnectionAdmin(admin.ModelAdmin):
    # The token fields are deliberately absent: not even ciphertexts are shown or editable.
    list_display = ("organization", "site_name", "status", "connected_by", "connected_at", "disconnected_at")
    list_filter = ("status",)
    fields = (
        "organization", "status", "site_name", "site_url", "cloud_id", "scopes", "access_expires_at",
        "tokens_refreshed_at", "reconnect_reason", "connected_by", "connected_at", "disconnected_by",
        "disconnected_at", "webhook_ids", "webhook_jql", "webhook_expires_at", "webhook_error", "last_webhook_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(SiteSyncRule)
class SiteSyncRuleAdmin(admin.ModelAdmin):
    list_display = ("site", "enabled", "project_key", "severities", "auto_push", "auto_push_since")
    list_filter = ("enabled", "auto_push")


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event", "issue_key", "outcome", "detail", "connection")
    list_filter = ("outcome", "event")
    readonly_fields = [f.name for f in InboundEvent._meta.fields]


class PushJobItemInline(admin.TabularInline):
    model = PushJobItem
    extra = 0
    can_delete = False
    fields = ("position", "violation", "status", "issue_key", "reason", "attempts", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PushJob)
class PushJobAdmin(ReadOnlyAdmin):
    """What each bulk, picked, auto or single push did, item by item, for whoever investigates."""

    list_display = ("created_at", "site", "kind", "status", "project_key", "created_by", "finished_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in PushJob._meta.fields]
    inlines = [PushJobItemInline]


@admin.register(JiraLink)
class JiraLinkAdmin(ReadOnlyAdmin):
    list_display = ("issue_key", "violation", "status", "project_key", "cloud_id", "linked_at")
    list_filter = ("status",)
    search_fields = ("issue_key", "violation__rule_id")
    readonly_fields = [f.name for f in JiraLink._meta.fields]


@admin.register(OutboundWrite)
class OutboundWriteAdmin(ReadOnlyAdmin):
    """Every write AllyProof made to Jira: how an incoming webhook is recognised as our own echo."""

    list_display = ("created_at", "kind", "issue_key", "jira_id", "cloud_id")
    list_filter = ("kind",)
    search_fields = ("issue_key",)
