from django.contrib import admin

from .models import InboundEvent, JiraConnection, JiraLink, PushJob, PushJobItem, SiteSyncRule


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
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "event", "issue_key", "outcome", "detail", "connection")
    list_filter = ("outcome", "event")
    readonly_fields = [f.name for f in InboundEvent._meta.fields]


class PushJobItemInline(admin.TabularInline):
    model = PushJobItem
    extra = 0
    can_delete = False
    fields = ("position", "violation", "status", "issue_key", "reason", "attempts", "updated_at")
    readonly_fields = fields


@admin.register(PushJob)
class PushJobAdmin(admin.ModelAdmin):
    """What each bulk, picked, auto or single push did, item by item, for whoever investigates."""

    list_display = ("created_at", "site", "kind", "status", "project_key", "created_by", "finished_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in PushJob._meta.fields]
    inlines = [PushJobItemInline]


@admin.register(JiraLink)
class JiraLinkAdmin(admin.ModelAdmin):
    list_display = ("issue_key", "violation", "status", "project_key", "cloud_id", "linked_at")
    list_filter = ("status",)
    search_fields = ("issue_key", "violation__rule_id")
    readonly_fields = [f.name for f in JiraLink._meta.fields]
