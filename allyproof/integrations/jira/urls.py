from django.urls import path

from . import views, webhook_views

urlpatterns = [
    path("settings/integrations/", views.integrations, name="integrations"),
    path("settings/integrations/jira/connect/", views.connect, name="jira_connect"),
    path("settings/integrations/jira/callback/", views.oauth_callback, name="jira_oauth_callback"),
    path("settings/integrations/jira/site/", views.choose_site, name="jira_choose_site"),
    path("settings/integrations/jira/disconnect/", views.disconnect, name="jira_disconnect"),
    path("integrations/jira/webhook/", webhook_views.receive, name="jira_webhook"),
]
