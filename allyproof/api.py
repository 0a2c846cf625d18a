"""The JSON API (django-ninja; its OpenAPI document is served at /api/v1/openapi.json).

API clients are CI jobs uploading scan results; they authenticate with an organization's API
token (`Authorization: Bearer ap_…`). Every object is looked up inside that organization.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from ninja import NinjaAPI, Query, Schema
from ninja.responses import Status
from ninja.security import HttpBearer

from allyproof.accounts.services import api_token_authenticate
from allyproof.core.request_body import BodyRefused, body_stream
from allyproof.monitoring import selectors, services
from allyproof.monitoring.axe import AxeResultsError
from allyproof.monitoring.models import Impact, Scan, Violation


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        return api_token_authenticate(presented=token)


api = NinjaAPI(
    title="AllyProof API",
    version="1",
    urls_namespace="api",
    auth=ApiTokenAuth(),
    description="Sites, violations and scan uploads. Authenticate with `Authorization: Bearer <API token>`.",
)


class ErrorOut(Schema):
    detail: str
    path: str = ""


class SiteOut(Schema):
    id: int
    name: str
    base_url: str
    active: bool
    open_violations: int


class ViolationOut(Schema):
    id: int
    rule_id: str
    impact: str
    status: str
    description: str
    help: str
    help_url: str
    wcag_tags: list[str]
    page_count: int
    element_count: int
    first_detected_at: dt.datetime
    last_detected_at: dt.datetime
    resolved_at: dt.datetime | None


class ViolationPage(Schema):
    count: int
    results: list[ViolationOut]


class ViolationFilters(Schema):
    status: str = "open"
    impact: Impact | None = None
    rule: str | None = None
    limit: int = 100
    offset: int = 0


class ScanOut(Schema):
    id: int
    site_id: int
    status: str
    source: str
    pages_scanned: int
    violations_found: int
    new_violations: int
    reopened_violations: int
    axe_version: str
    started_at: dt.datetime
    completed_at: dt.datetime | None


@api.get("/sites", response=list[SiteOut], tags=["sites"])
def list_sites(request):
    sites = selectors.sites_for_organization(organization=request.auth.organization)
    return [
        SiteOut(id=s.pk, name=s.name, base_url=s.base_url, active=s.active, open_violations=s.open_count)
        for s in sites
    ]


@api.get(
    "/sites/{site_id}/violations",
    response={200: ViolationPage, 400: ErrorOut, 404: ErrorOut},
    tags=["violations"],
)
def list_violations(request, site_id: int, filters: Query[ViolationFilters]):
    if filters.status not in selectors.STATUS_FILTERS:
        return Status(400, ErrorOut(detail=f"status must be one of {', '.join(selectors.STATUS_FILTERS)}", path="status"))
    if not 1 <= filters.limit <= 500 or filters.offset < 0:
        return Status(400, ErrorOut(detail="limit must be 1–500 and offset at least 0", path="limit"))
    site = selectors.site_get(organization=request.auth.organization, site_id=site_id)
    violations = selectors.violations_for_site(
        site=site, status=filters.status, impact=filters.impact, rule=filters.rule
    )
    page = violations[filters.offset : filters.offset + filters.limit]
    return Status(200, ViolationPage(count=violations.count(), results=list(page)))


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "axe-core results: one axe.run() result, a list of them (one per page), "
        "or a file written by `@axe-core/cli --save`.",
        "content": {"application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}}},
    }
}


@api.post(
    "/sites/{site_id}/scans",
    response={201: ScanOut, 400: ErrorOut, 404: ErrorOut, 411: ErrorOut, 413: ErrorOut, 415: ErrorOut},
    tags=["scans"],
    openapi_extra=_UPLOAD_BODY,
)
def upload_scan(request, site_id: int):
    """Ingest one scan. The body is streamed, so files of thousands of pages are fine; nothing is
    written unless the whole file is valid."""
    site = selectors.site_get(organization=request.auth.organization, site_id=site_id)
    if request.content_type != "application/json":
        return Status(415, ErrorOut(detail="send the results as application/json"))
    try:
        stream = body_stream(request, limit=settings.CONFIG.max_upload_bytes)
        scan = services.scan_ingest(site=site, stream=stream, source=Scan.Source.API)
    except BodyRefused as refused:
        return Status(refused.status, ErrorOut(detail=f"nothing was imported: {refused.message}"))
    except AxeResultsError as problem:
        return Status(400, ErrorOut(detail=f"nothing was imported: {problem.message}", path=problem.path))
    return Status(201, scan)


__all__ = ["api", "Violation"]
