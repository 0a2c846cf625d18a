from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jira", "0002_severities_default"),
    ]

    operations = [
        migrations.AddField(model_name="sitesyncrule", name="priorities",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(model_name="sitesyncrule", name="extra_labels",
                            field=models.JSONField(blank=True, default=list)),
        migrations.AddField(model_name="sitesyncrule", name="components",
                            field=models.JSONField(blank=True, default=list)),
    ]
