from django.db import migrations, models


class Migration(migrations.Migration):
    """The pacing gate stamps each call's real send time (issue 11: Jira counts arrivals, not slots)."""

    dependencies = [("jira", "0006_merge_budget_inbound")]
    operations = [migrations.AddField(model_name="pacinggate", name="last_sent", field=models.FloatField(default=0.0))]
