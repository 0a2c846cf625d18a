"""The endpoints Atlassian delivers dynamic webhooks to: one callback URL per connection. Answers are
JSON; the URL is mapped to its connection first, then the JWT is verified, then the body is read."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from allyproof.core import logs, metrics

from allyproof.integrations.jira import tasks
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.inbound import intake as inbound


def _length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _body(request) -> bytes:
    """The stream, not `request.body`: Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE (2 MiB, set for
    form posts) with an HTML 400 that leaves no sync-log line, so a delivery of 2 to 5 MiB was lost without a
    trace. Intake's own limit (MAX_BODY_BYTES) is checked against Content-Length before this is read, and
    the WSGI stream never reads past Content-Length."""
    return request.read()


def _wake_the_worker() -> None:
    inbound_apply.wake(tasks.inbound_apply_task)


@csrf_exempt  # authenticated by the JWT Atlassian signs with our client secret, not by a cookie
@require_POST
@metrics.counts_deliveries
def receive(request, token: str):
    answer = inbound.receive(
        url_token=token, authorization=request.headers.get("Authorization"),
        identifier=request.headers.get("X-Atlassian-Webhook-Identifier", ""),
        content_length=_length(request), read_body=lambda: _body(request),
        wake=_wake_the_worker,
    )
    # gunicorn's access line is the delivery's log line: its outcome and reason, never the URL's token.
    request.META[logs.ACCESS_FIELDS] = {
        "path": "/integrations/jira/webhook/[token]/", "outcome": answer.body.get("outcome", "refused"),
        "reason": answer.body.get("code") or answer.body.get("error", "")}
    return JsonResponse(answer.body, status=answer.status)


@csrf_exempt
@metrics.counts_deliveries
def retired(request):
    """The shared URL every connection used before each had its own: registrations still pointing here
    get a clear, final answer (410 is not retried by Atlassian) until they expire or are replaced."""
    return JsonResponse({"error": "gone", "detail": "this callback URL is retired; each connection now registers "
                         "its own. Saving sync rules or the next refresh re-registers."}, status=410)
