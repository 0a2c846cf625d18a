"""The endpoint Atlassian delivers dynamic webhooks to. Authenticate first, answer fast."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from allyproof.core import metrics

from . import inbound


@csrf_exempt  # authenticated by the JWT Atlassian signs with our client secret, not by a cookie
@require_POST
@metrics.counts_deliveries
def receive(request):
    try:
        record = inbound.receive(
            authorization=request.headers.get("Authorization"),
            identifier=request.headers.get("X-Atlassian-Webhook-Identifier", ""),
            body=request.body,
        )
    except inbound.Unauthenticated as problem:
        return JsonResponse({"error": "unauthenticated", "detail": str(problem)}, status=401)
    except inbound.BadPayload as problem:
        # 400 is not retried by Atlassian: a malformed body will not get better.
        return JsonResponse({"error": "bad_payload", "detail": str(problem)}, status=400)
    return JsonResponse({"outcome": record.outcome}, status=200)
