from django.contrib.auth import views as auth_views
from django.urls import path

from . import settings_views as views

urlpatterns = [
    path("settings/", views.settings_home, name="settings"),
    path("settings/members/", views.members, name="settings_members"),
    path("settings/members/invite/", views.member_invite, name="settings_member_invite"),
    path("settings/members/<int:membership_id>/role/", views.member_role, name="settings_member_role"),
    path("settings/members/<int:membership_id>/remove/", views.member_remove, name="settings_member_remove"),
    path("settings/tokens/", views.tokens, name="settings_tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke, name="settings_token_revoke"),
    path("settings/organization/", views.organization, name="settings_organization"),
    path("settings/support/", views.support_page, name="settings_support"),
    # The one-time link an invited person follows to choose a password (Django's reset-token view).
    path("accounts/set-password/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/set_password.html", post_reset_login=True, success_url="/sites/",
        post_reset_login_backend="django.contrib.auth.backends.ModelBackend"),
        name="password_set"),
]
