"""The "Jira" column of a site's violations table: the linked issue key, one query per page.

A link made on a previous connection (disconnected, or another Jira site) is still shown, as a link
marked "previous connection": history people can follow."""

from __future__ import annotations

from django.utils.html import format_html

from allyproof.monitoring.table_columns import Cells, Column

from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.models import JiraLink


def jira_cells(site, violations) -> Cells:
    connection = connection_current(organization=site.organization)
    current = connection.cloud_id if connection is not None and connection.cloud_id else None
    links = JiraLink.objects.filter(
        violation_id__in=[v.pk for v in violations], status=JiraLink.Status.LINKED
    ).values_list("violation_id", "issue_key", "issue_url", "cloud_id").order_by("linked_at")
    cells: dict = {}
    for vid, key, url, cloud_id in links:
        if cloud_id == current:
            cells[vid] = format_html('<a class="jira-key" href="{}" rel="noopener noreferrer">{}</a>', url, key)
        elif vid not in cells or "previous" in cells[vid]:
            cells[vid] = format_html('<a class="jira-key" href="{}" rel="noopener noreferrer">{}</a> '
                                     '<span class="muted small">(previous connection)</span>', url, key)
    return Cells("Jira", cells)


COLUMN = Column(heading="Jira", cells=jira_cells)
