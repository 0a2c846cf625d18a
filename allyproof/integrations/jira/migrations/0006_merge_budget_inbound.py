from django.db import migrations


class Migration(migrations.Migration):
    """Joins the budget's pools (issue 11) and the inbound queue (webhook intake), made side by side."""

    dependencies = [("jira", "0005_inbound_queue"), ("jira", "0005_issue11_budget")]
    operations = []
