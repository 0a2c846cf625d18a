from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import include, path

from allyproof.accounts import views as account_views
from allyproof.api import api
from allyproof.core import views as core_views
from allyproof.dashboard import views as dashboard_views
from allyproof.monitoring import views as monitoring_views

urlpatterns = [
    path("", lambda request: redirect("sites"), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organizations/switch/", account_views.organization_switch, name="organization_switch"),
    path("sites/", monitoring_views.site_list, name="sites"),
    path("sites/new/", monitoring_views.site_create, name="site_create"),
    path("sites/<int:site_id>/", monitoring_views.site_detail, name="site_detail"),
    path("sites/<int:site_id>/trend.svg", monitoring_views.site_trend_svg, name="site_trend_svg"),
    path("sites/<int:site_id>/scans/upload/", monitoring_views.scan_upload, name="scan_upload"),
    path(
        "sites/<int:site_id>/violations/<int:violation_id>/",
        monitoring_views.violation_detail,
        name="violation_detail",
    ),
    path(
        "sites/<int:site_id>/violations/<int:violation_id>/status/",
        monitoring_views.violation_status,
        name="violation_status",
    ),
    path("scans/", monitoring_views.scan_list, name="scans"),
    path("scans/<int:scan_id>/", monitoring_views.scan_detail, name="scan_detail"),
    path("", include("allyproof.scanning.routes")),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("", include("allyproof.integrations.jira.urls")),
    path("", include("allyproof.accounts.settings_urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("health/", core_views.HealthView.as_view(), name="health"),
    path("metrics", core_views.metrics_view, name="metrics"),
]
