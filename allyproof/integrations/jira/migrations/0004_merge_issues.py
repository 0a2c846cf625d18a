"""Joins the migrations that issues 8, 9, 10 and 12 each added after 0002 (made side by side)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jira", "0003_issue8_exactly_once"),
        ("jira", "0003_issue10_fixed_action"),
        ("jira", "0003_issue12_triage"),
        ("jira", "0003_issue9_sync"),
    ]
    operations = []
