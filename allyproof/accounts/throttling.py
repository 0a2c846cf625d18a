"""Sign-in throttling (django-axes), wired to our clock, our client address and our sign-in page.

django-axes counts failed sign-ins per (account, client address) and per client address, and refuses
further attempts for a cool-off; these are the three places where the product decides instead of it.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.shortcuts import render

from allyproof.core import clock

LOCKOUT_MESSAGE = (
    "Too many failed sign-ins from your network. Signing in is paused for {minutes} minutes; "
    "try again after that."
)


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind a configured reverse proxy the address that proxy appended last.

    Axes' default (django-ipware) trusts X-Forwarded-For even without a proxy, which would let an
    attacker pick a fresh address for every guess.
    """
    if settings.CONFIG.behind_proxy:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR", "")


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request, original_response=None, credentials=None):
    """The product's sign-in page with the reason, for both the product's and the admin's sign-in."""
    return render(
        request,
        "accounts/login.html",
        {"lockout_message": LOCKOUT_MESSAGE.format(minutes=lockout_minutes())},
        status=429,
    )


class ClockMiddleware:
    """Stamps axes' attempt time from `allyproof.core.clock`, so the cool-off follows the one clock seam.

    Axes reads `django.utils.timezone.now()` once per request in `update_request`; it leaves a request
    it has already updated alone, so this runs that update first and then replaces the time.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        AxesProxyHandler.update_request(request)
        request.axes_attempt_time = clock.now()
        return self.get_response(request)


class ThrottledBackend(AxesStandaloneBackend):
    """Axes' check for every sign-in that comes with a request (every web sign-in form passes one).

    A call without a request (a shell, the test client's `login()`) has no client address to count;
    axes would refuse it outright, so it goes on to ModelBackend unthrottled.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
