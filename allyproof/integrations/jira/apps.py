from django.apps import AppConfig


class JiraConfig(AppConfig):
    """What the Jira app adds to monitoring's pages and events is declared in allyproof.core.plugs."""

    name = "allyproof.integrations.jira"
    label = "jira"
    verbose_name = "Jira Cloud integration"
