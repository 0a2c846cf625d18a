"""Settings: Members, API tokens, Organization, Support. Thin: check access, call one service, render.

A refused change re-renders the same page (same URL, status 400) with the reason next to the control
that caused it, and that message takes focus, so nobody has to scroll to find out what happened.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import selectors, services, support
from .decorators import admin_required, member_required
from .forms import InviteForm, OrganizationForm, TokenForm
from .models import Role
from .templatetags.org_time import format_when


def _role_choices(membership):
    """Only an owner can hand out the owner role."""
    return [(v, label) for v, label in Role.choices if v != Role.OWNER or membership.role == Role.OWNER]


@member_required
def settings_home(request):
    return redirect("integrations")


def _members_page(request, *, form=None, invitation=None, row_errors=None, status=200):
    organization = request.membership.organization
    form = form or InviteForm()
    form.fields["role"].choices = _role_choices(request.membership)
    return render(request, "accounts/settings/members.html", {
        "members": selectors.members_for_organization(organization=organization),
        "form": form, "invitation": invitation, "row_errors": row_errors or {},
        "role_choices": _role_choices(request.membership), "section": "members",
    }, status=status)


@admin_required
def members(request):
    return _members_page(request)


@require_POST
@admin_required
def member_invite(request):
    form = InviteForm(request.POST)
    form.fields["role"].choices = _role_choices(request.membership)
    if not form.is_valid():
        return _members_page(request, form=form, status=400)
    try:
        invitation = services.member_invite(organization=request.membership.organization, by=request.membership,
                                            email=form.cleaned_data["email"], role=form.cleaned_data["role"])
    except services.SettingsRefused as refused:
        form.add_error("email", str(refused))
        return _members_page(request, form=form, status=400)
    if invitation.set_password_path is None:
        messages.success(request, f"Added {invitation.membership.user} as {invitation.membership.get_role_display()}.")
        return redirect("settings_members")
    # The one-time link is shown once, in this response, and never stored.
    link = request.build_absolute_uri(invitation.set_password_path)
    return _members_page(request, invitation={"membership": invitation.membership, "link": link})


@require_POST
@admin_required
def member_role(request, membership_id: int):
    target = selectors.membership_get(organization=request.membership.organization, membership_id=membership_id)
    try:
        services.membership_role_change(membership=target, role=request.POST.get("role", ""), by=request.membership)
    except services.SettingsRefused as refused:
        return _members_page(request, row_errors={target.pk: str(refused)}, status=400)
    messages.success(request, f"{target.user} is now {target.get_role_display()}.")
    return redirect("settings_members")


@require_POST
@admin_required
def member_remove(request, membership_id: int):
    target = selectors.membership_get(organization=request.membership.organization, membership_id=membership_id)
    try:
        services.membership_remove(membership=target, by=request.membership)
    except services.SettingsRefused as refused:
        return _members_page(request, row_errors={target.pk: str(refused)}, status=400)
    messages.success(request, f"Removed {target.user} from {target.organization.name}.")
    if target.pk == request.membership.pk:
        return redirect("home")
    return redirect("settings_members")


def _tokens_page(request, *, form=None, created=None, status=200):
    return render(request, "accounts/settings/tokens.html", {
        "tokens": selectors.api_tokens_for_organization(organization=request.membership.organization),
        "form": form or TokenForm(), "created": created, "section": "tokens",
    }, status=status)


@admin_required
def tokens(request):
    if request.method != "POST":
        return _tokens_page(request)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form=form, status=400)
    try:
        token, plaintext = services.api_token_create_named(
            organization=request.membership.organization, name=form.cleaned_data["name"], by=request.user)
    except services.SettingsRefused as refused:
        form.add_error("name", str(refused))
        return _tokens_page(request, form=form, status=400)
    # Shown once, in this response: only the hash is stored.
    return _tokens_page(request, created={"token": token, "plaintext": plaintext}, status=201)


@require_POST
@admin_required
def token_revoke(request, token_id: int):
    token = selectors.api_token_get(organization=request.membership.organization, token_id=token_id)
    if token.revoked_at is None:
        services.api_token_revoke(token=token)
        messages.success(request, f"Revoked {token.name}. Clients using it are refused from now on.")
    return redirect("settings_tokens")


@admin_required
def organization(request):
    org = request.membership.organization
    form = OrganizationForm(request.POST or None, initial={"name": org.name, "time_zone": org.time_zone})
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(organization=org, **form.cleaned_data)
        except services.SettingsRefused as refused:
            form.add_error(refused.field or None, str(refused))
        else:
            messages.success(request, f"Saved. Times are now shown in {org.time_zone}.")
            return redirect("settings_organization")
    return render(request, "accounts/settings/organization.html", {"form": form, "section": "organization",
                                                                "time_zones": sorted(services.time_zones())},
                  status=400 if form.errors else 200)


@member_required
def support_page(request):
    org = request.membership.organization
    context = {"contact": support.contact(settings.CONFIG.support), "section": "support"}
    if request.membership.is_admin:  # diagnostics name sites and issue keys: admins only
        context["diagnostics"] = support.diagnostics(organization=org, when=format_when(timezone.now()))
    return render(request, "accounts/settings/support.html", context)
