from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .decorators import member_required
from .middleware import SESSION_KEY
from .selectors import memberships_for_user


@require_POST
@member_required
def organization_switch(request):
    try:
        organization_id = int(request.POST.get("organization", ""))
    except ValueError:
        raise Http404("No such organization.") from None
    if not memberships_for_user(user=request.user).filter(organization_id=organization_id).exists():
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = organization_id
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
