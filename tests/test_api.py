"""The JSON API: token auth, organization scoping, streaming upload and its bad inputs."""

import json

import pytest

from allyproof.accounts.services import api_token_create, api_token_revoke
from allyproof.monitoring.models import Scan, Violation
from tests import factories


@pytest.fixture
def token(org):
    return api_token_create(organization=org, name="CI")[1]


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def upload(client, site_id, body: bytes, token, content_type="application/json"):
    return client.post(f"/api/v1/sites/{site_id}/scans", body, content_type=content_type, **auth(token))


def test_upload_a_multi_page_file(client, site, token):
    response = upload(client, site.pk, factories.axe_fixture("multi_page__site.json"), token)
    assert response.status_code == 201, response.content
    body = response.json()
    scan = Scan.objects.get(pk=body["id"])
    assert body["pages_scanned"] == scan.pages_scanned > 1
    assert body["new_violations"] == site.violations.count() > 0
    assert scan.source == Scan.Source.API


def test_list_sites_and_violations_with_filters(client, site, token):
    upload(client, site.pk, factories.axe_fixture("multi_page__site.json"), token)
    sites = client.get("/api/v1/sites", **auth(token)).json()
    assert [s["name"] for s in sites] == ["ACME Dental"] and sites[0]["open_violations"] > 0
    everything = client.get(f"/api/v1/sites/{site.pk}/violations", **auth(token)).json()
    critical = client.get(f"/api/v1/sites/{site.pk}/violations", {"impact": "critical"}, **auth(token)).json()
    assert everything["count"] == site.violations.count()
    assert critical["count"] == site.violations.filter(impact="critical").count() > 0
    assert {v["impact"] for v in critical["results"]} == {"critical"}
    one = client.get(f"/api/v1/sites/{site.pk}/violations", {"rule": "image-alt"}, **auth(token)).json()
    assert [v["rule_id"] for v in one["results"]] == ["image-alt"]


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ({"status": "maybe"}, 400, "status must be one of open, resolved, all"),
        ({"limit": 0}, 400, "limit must be 1–500"),
        ({"impact": "huge"}, 422, None),
    ],
)
def test_bad_filters(client, site, token, query, status, detail):
    response = client.get(f"/api/v1/sites/{site.pk}/violations", query, **auth(token))
    assert response.status_code == status
    if detail:
        assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail", "path"),
    [
        (b"\n", "application/json", 400, "the file is empty", ""),
        (b"{not json", "application/json", 400, "not valid JSON", ""),
        (b'"a string"', "application/json", 400, "not axe-core results", ""),
        (json.dumps([{"url": "https://a.example/", "violations": [{"impact": "critical"}]}]).encode(),
         "application/json", 400, "missing rule 'id'", "pages[0].violations[0]"),
        (json.dumps([{"url": "https://a.example/", "violations": [
            {"id": "image-alt", "impact": "severe", "description": "d", "help": "h", "nodes": []}]}]).encode(),
         "application/json", 400, "unknown impact 'severe'", "pages[0].violations[0].impact"),
        (b"url=x", "application/x-www-form-urlencoded", 415, "send the results as application/json", ""),
    ],
)
def test_bad_uploads_write_nothing(client, site, token, body, content_type, status, detail, path):
    response = upload(client, site.pk, body, token, content_type)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert response.json().get("path", "") == path
    assert Scan.objects.count() == 0 and Violation.objects.count() == 0


def test_upload_over_the_limit_is_413(client, site, token, settings):
    settings.CONFIG = settings.CONFIG.replace(max_upload_bytes=1000)
    response = upload(client, site.pk, factories.axe_fixture("single_page__home.json"), token)
    assert response.status_code == 413
    assert "the limit is 1000 bytes" in response.json()["detail"]
    assert Scan.objects.count() == 0


def test_a_site_of_another_organization_is_404(client, token, other_org):
    foreign = factories.site(other_org, "Foreign", "https://foreign.example/")
    response = upload(client, foreign.pk, factories.axe_fixture("single_page__home.json"), token)
    assert response.status_code == 404
    assert client.get(f"/api/v1/sites/{foreign.pk}/violations", **auth(token)).status_code == 404
    assert Scan.objects.count() == 0


@pytest.mark.parametrize("presented", ["", "ap_nope_nope", "not-a-token", "revoked"])
def test_wrong_or_revoked_token_is_401(client, site, org, presented):
    if presented == "revoked":
        row, presented = api_token_create(organization=org, name="old")
        api_token_revoke(token=row)
    response = upload(client, site.pk, factories.axe_fixture("single_page__home.json"), presented)
    assert response.status_code == 401
    assert client.get("/api/v1/sites", **auth(presented)).status_code == 401
    assert Scan.objects.count() == 0


def test_session_cookie_is_not_api_auth(client, site, owner):
    client.force_login(owner)
    assert client.get("/api/v1/sites").status_code == 401


def test_openapi_document_is_served(client, db):
    doc = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/sites", "/api/v1/sites/{site_id}/violations", "/api/v1/sites/{site_id}/scans"} <= set(doc["paths"])
