"""Every answer under /api/ is JSON, errors included: an API client never gets an HTML error page."""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.http import JsonResponse

API_PREFIX = "/api/"
log = logging.getLogger("allyproof.api")


class JsonErrorsMiddleware:
    """Turns Django's HTML error answers (unknown URL, wrong method, server error) into `{"detail": …}`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        replaced = JsonResponse({"detail": HTTPStatus(status).phrase}, status=status)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                replaced[header] = response[header]
        return replaced

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        log.exception("api.unhandled_error path=%s", request.path)
        return JsonResponse({"detail": "Internal Server Error: the error is logged; nothing was written"}, status=500)
