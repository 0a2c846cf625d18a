from django.apps import AppConfig


class JiraConfig(AppConfig):
    name = "allyproof.integrations.jira"
    label = "jira"
    verbose_name = "Jira Cloud integration"
