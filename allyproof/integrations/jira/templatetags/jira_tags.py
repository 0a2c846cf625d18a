from django import template

from allyproof.integrations.jira import words
from allyproof.integrations.jira.ui import selectors

register = template.Library()


@register.inclusion_tag("jira/_site_block.html", takes_context=True)
def jira_site_block(context, site):
    return {**selectors.site_block(site=site), "request": context["request"], "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("jira/_push_button.html", takes_context=True)
def jira_push_button(context, violation):
    return {**selectors.violation_button(violation=violation), "request": context["request"],
            "csrf_token": context.get("csrf_token")}


@register.filter
def jql_projects(jql: str) -> str:
    """The webhook's JQL filter in words: "project IN (ACME, BETA)" -> "ACME and BETA"."""
    return words.projects_in_words(jql)


@register.inclusion_tag("jira/_violation_sync_log.html")
def jira_violation_sync_log(violation):
    from allyproof.integrations.jira.sync_log import sync_log_for_violation

    return {"log_rows": sync_log_for_violation(violation_id=violation.pk,
                                               organization_id=violation.site.organization_id)}
