"""The "Jira" column of a site's violations table: the linked issue key, one query per page."""

from __future__ import annotations

from django.utils.html import format_html

from allyproof.monitoring.table_columns import Cells, Column

from .connection import connection_current
from .models import JiraLink


def jira_cells(site, violations) -> Cells:
    connection = connection_current(organization=site.organization)
    if connection is None or not connection.cloud_id:
        return Cells("Jira", {})
    links = JiraLink.objects.filter(
        violation_id__in=[v.pk for v in violations], cloud_id=connection.cloud_id, status=JiraLink.Status.LINKED
    ).values_list("violation_id", "issue_key", "issue_url")
    return Cells("Jira", {vid: format_html('<a href="{}" rel="noopener noreferrer">{}</a>', url, key)
                          for vid, key, url in links})


COLUMN = Column(heading="Jira", cells=jira_cells)
