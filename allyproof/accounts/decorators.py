from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseForbidden
from django.template.loader import render_to_string

from .selectors import membership_require_admin


def member_required(view):
    """Signed in and belonging to at least one organization; the view reads request.membership."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.membership is None:
            html = render_to_string("accounts/no_organization.html", request=request)
            return HttpResponseForbidden(html)
        return view(request, *args, **kwargs)

    return wrapped


def admin_required(view):
    @member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        membership_require_admin(membership=request.membership)
        return view(request, *args, **kwargs)

    return wrapped
