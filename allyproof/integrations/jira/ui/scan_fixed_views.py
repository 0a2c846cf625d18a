"""The per-site choice of what a "fixed" scan does to the Jira issue (admins)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from allyproof.accounts.decorators import admin_required
from allyproof.monitoring import selectors

from allyproof.integrations.jira.models import SiteSyncRule

CHOICES = SiteSyncRule._meta.get_field("fixed_action").choices


@require_POST
@admin_required
def fixed_action_save(request, site_id: int):
    site = selectors.site_get(organization=request.membership.organization, site_id=site_id)
    value = request.POST.get("fixed_action", "")
    if value not in dict(CHOICES):
        messages.error(request, "Choose what happens to the Jira issue: a comment, or a comment and a move to Done.")
    elif SiteSyncRule.objects.filter(site=site).update(fixed_action=value):
        messages.success(request, "Saved what happens in Jira when a scan fixes a violation.")
    else:
        messages.error(request, "Set up this site's sync rule first (Settings → Integrations).")
    return redirect("site_detail", site_id=site.pk)
