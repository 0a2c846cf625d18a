from django.urls import path

from allyproof.integrations.jira.ui import push_views
from allyproof.integrations.jira.ui import scan_fixed_views
from allyproof.integrations.jira.ui import views
from allyproof.integrations.jira.ui import webhook_views

urlpatterns = [
    path("settings/integrations/", views.integrations, name="integrations"),
    path("settings/integrations/jira/connect/", views.connect, name="jira_connect"),
    path("settings/integrations/jira/callback/", views.oauth_callback, name="jira_oauth_callback"),
    path("settings/integrations/jira/site/", views.choose_site, name="jira_choose_site"),
    path("settings/integrations/jira/disconnect/", views.disconnect, name="jira_disconnect"),
    path("settings/integrations/jira/rules/", views.rules_save, name="jira_rules_save"),
    path("settings/integrations/jira/issue-types/", views.project_issue_types, name="jira_issue_types"),
    path("integrations/jira/webhook/", webhook_views.retired, name="jira_webhook_retired"),
    path("integrations/jira/webhook/<str:token>/", webhook_views.receive, name="jira_webhook"),
    path("sites/<int:site_id>/violations/<int:violation_id>/jira/push/", push_views.violation_push,
         name="jira_violation_push"),
    path("sites/<int:site_id>/violations/<int:violation_id>/jira/", push_views.violation_button,
         name="jira_violation_button"),
    path("sites/<int:site_id>/jira/push/", push_views.site_push, name="jira_site_push"),
    path("sites/<int:site_id>/jira/", push_views.site_block, name="jira_site_block"),
    path("sites/<int:site_id>/jira/picker/", push_views.site_picker, name="jira_site_picker"),
    path("sites/<int:site_id>/jira/jobs/<int:job_id>/retry/", push_views.job_retry, name="jira_job_retry"),
    path("sites/<int:site_id>/jira/fixed-action/", scan_fixed_views.fixed_action_save, name="jira_fixed_action"),
]
