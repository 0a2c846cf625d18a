from django.apps import AppConfig


class JiraConfig(AppConfig):
    name = "allyproof.integrations.jira"
    label = "jira"
    verbose_name = "Jira Cloud integration"

    def ready(self) -> None:
        from allyproof.accounts import support
        from allyproof.monitoring import events, table_columns

        from . import columns, connection, diagnostics, jobs, scan_fixed, scan_followup

        table_columns.register(columns.COLUMN)
        support.register(diagnostics.jira_diagnostics)
        events.subscribe(scan_followup.on_scan_completed)
        events.subscribe_fixed(scan_fixed.on_violations_fixed)  # issue 10: "fixed", told to Jira

        if jobs.push_jobs_cancel not in connection.DISCONNECT_HOOKS:
            connection.DISCONNECT_HOOKS.append(jobs.push_jobs_cancel)
