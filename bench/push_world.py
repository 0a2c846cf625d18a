"""The world the push benchmarks share: one organization, one site with N serious violations, connected to
the sandbox and routed to ACME with every severity. Import it after the benchmark has set Django up (each
benchmark sets its own environment first: SQLite for bench/push.py, a scratch PostgreSQL for job_profile)."""

from __future__ import annotations


def push_world(n_violations: int, sandbox):
    """Returns (site, connection)."""
    from django.core.management import call_command
    from django.test import Client

    from allyproof.core import clock
    from allyproof.core import impact as impacts
    from allyproof.integrations.jira.connection.gateway import client_for
    from allyproof.integrations.jira.outbound import rules
    from allyproof.monitoring.models import Violation
    from tests import factories
    from tests.jira.conftest import connect

    call_command("migrate", verbosity=0)
    org = factories.organization("Bench Agency")
    admin = factories.member(org, "admin@bench.test", "admin")
    site = factories.site(org, "Bench Site", "https://bench.example/")
    now = clock.now()
    Violation.objects.bulk_create([
        Violation(site=site, rule_id=f"bench-rule-{i}", impact="serious", description="Ensures every thing is fine",
                  help="Things must be fine", help_url="https://dequeuniversity.com/rules/axe/4.12/x",
                  tags=["wcag2aa", "wcag143"], wcag_tags=["wcag2aa", "wcag143"], page_count=40, element_count=120,
                  pages=[f"https://bench.example/page-{p}/" for p in range(40)],
                  samples=[{"target": ["main", "p.low"], "html": "<p class=\"low\">text</p>",
                            "failure_summary": "Fix any of the following: contrast 2.1:1"}] * 5,
                  first_detected_at=now, last_detected_at=now)
        for i in range(n_violations)])
    web = Client()
    web.force_login(admin)
    connection = connect(web, sandbox)
    result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
        rules.RuleInput(site_id=site.pk, enabled=True, project_key="ACME", severities=frozenset(impacts.VALUES),
                        issue_type="", auto_push=False)])
    assert result.ok, result.errors
    return site, connection
