from django.apps import AppConfig


class JiraConfig(AppConfig):
    name = "allyproof.integrations.jira"
    label = "jira"
    verbose_name = "Jira Cloud integration"

    def ready(self) -> None:
        from allyproof.monitoring import events, table_columns

        from . import columns, connection, jobs, scan_followup

        table_columns.register(columns.COLUMN)
        events.subscribe(scan_followup.on_scan_completed)

        if jobs.push_jobs_cancel not in connection.DISCONNECT_HOOKS:
            connection.DISCONNECT_HOOKS.append(jobs.push_jobs_cancel)
