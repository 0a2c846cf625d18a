"""The JSON API (django-ninja; its OpenAPI document is served at /api/v1/openapi.json).

API clients are CI jobs uploading scan results; they authenticate with an organization's API
token (`Authorization: Bearer ap_…`). Every object is looked up inside that organization.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja.responses import Status
from ninja.security import HttpBearer

from allyproof import api_docs
from allyproof.accounts.services import api_token_authenticate
from allyproof.core.request_body import BodyRefused, body_stream
from allyproof.monitoring import selectors, services
from allyproof.monitoring.axe import AxeResultsError
from allyproof.core.impact import Impact
from allyproof.monitoring.models import Scan, Violation


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        return api_token_authenticate(presented=token)


class DocumentedApi(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        return api_docs.complete(super().get_openapi_schema(*args, **kwargs))


api = DocumentedApi(
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
    # Ranges are checked by the view (a 400 naming the parameter), so they are only documented here.
    status: str = Field("open", json_schema_extra={"enum": list(selectors.STATUS_FILTERS)})
    impact: Impact | None = None
    rule: str | None = Field(None, json_schema_extra={"maxLength": 120, "pattern": api_docs.NO_NUL})
    limit: int = Field(100, json_schema_extra={"minimum": 1, "maximum": 500})
    offset: int = Field(0, json_schema_extra={"minimum": 0, "maximum": api_docs.MAX_OFFSET})


SiteId = Path(..., ge=1, le=api_docs.MAX_ID)


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
def list_violations(request, filters: Query[ViolationFilters], site_id: int = SiteId):
    if filters.status not in selectors.STATUS_FILTERS:
        return Status(400, ErrorOut(detail=f"status must be one of {', '.join(selectors.STATUS_FILTERS)}", path="status"))
    if not 1 <= filters.limit <= 500:
        return Status(400, ErrorOut(detail="limit must be 1–500", path="limit"))
    if not 0 <= filters.offset <= api_docs.MAX_OFFSET:
        return Status(400, ErrorOut(detail=f"offset must be 0–{api_docs.MAX_OFFSET}", path="offset"))
    if filters.rule is not None and (len(filters.rule) > 120 or "\x00" in filters.rule):
        return Status(400, ErrorOut(detail="rule must be a rule id: at most 120 characters, no NUL", path="rule"))
    site = selectors.site_get(organization=request.auth.organization, site_id=site_id)
    violations = selectors.violations_for_site(
        site=site, status=filters.status, impact=filters.impact, rule=filters.rule
    )
    page = violations[filters.offset : filters.offset + filters.limit]
    return Status(200, ViolationPage(count=violations.count(), results=list(page)))


@api.post(
    "/sites/{site_id}/scans",
    response={201: ScanOut, 400: ErrorOut, 404: ErrorOut, 411: ErrorOut, 413: ErrorOut, 415: ErrorOut},
    tags=["scans"],
    openapi_extra=api_docs.UPLOAD_BODY,
)
def upload_scan(request, site_id: int = SiteId):
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
