"""Issue 13, case 2: every bad upload answers 4xx with the reason and the place, and writes nothing.

The corpus runs through the API (JSON answers) and the upload form, on SQLite and, in CI's second
pass, on PostgreSQL, where an over-long rule id or a NUL used to reach the database and answer 500.
"""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from allyproof.accounts.services import api_token_create
from allyproof.monitoring.models import Scan, Violation
from tests import factories


def page(**violation):
    rule = {"id": "image-alt", "impact": "critical", "description": "Images need alt text",
            "help": "Images must have alternate text", "helpUrl": "https://example.test/image-alt",
            "tags": ["wcag2a", "wcag111"], "nodes": [{"target": ["img"], "html": "<img>", "failureSummary": "Fix"}]}
    rule.update(violation)
    return {"url": "https://www.acme-dental.example/", "violations": [rule]}


def as_json(value) -> bytes:
    return json.dumps(value).encode()


DEEP = b"[" * 50_000 + b"]" * 50_000
V = "violations[0]"
# name -> (body, what the answer says, the place it names)
CORPUS = {
    "deep nesting in a kept field": (
        b'{"url": "https://a.example/", "testEngine": ' + DEEP + b', "violations": []}',
        "JSON is nested too deeply", "results"),
    "deep nesting in a skipped field": (
        b'{"url": "https://a.example/", "passes": ' + DEEP + b', "violations": []}',
        "JSON is nested too deeply", "results"),
    "deep nesting in a list of pages": (
        b'[{"url": "https://a.example/", "violations": [], "passes": ' + DEEP + b"}]",
        "JSON is nested too deeply", "pages[0]"),
    "invalid UTF-8 in a description": (
        as_json(page()).replace(b"Images need alt text", b"Images \xff\xfe alt"),
        "the file is not valid UTF-8 text (byte ", ""),
    "invalid UTF-8 in a skipped field": (
        b'{"url": "https://a.example/", "passes": "\xc3\x28", "violations": []}',
        "the file is not valid UTF-8 text (byte 41)", ""),
    "a rule id over 120 characters": (
        as_json(page(id="r" * 121)), "'id' is 121 characters; the limit is 120", f"{V}.id"),
    "NUL in a description": (
        as_json(page(description="alt\u0000text")), "must not contain the NUL character", f"{V}.description"),
    "NUL in a rule id": (as_json(page(id="image\u0000alt")), "must not contain the NUL character", f"{V}.id"),
    "NUL in a page url": (
        as_json({"url": "https://a.example/\u0000", "violations": []}), "must not contain the NUL", "results.url"),
    "NUL in a tag": (as_json(page(tags=["wcag2a", "x\u0000"])), "must not contain the NUL", f"{V}.tags[1]"),
    "NUL in a sample's html": (
        as_json(page(nodes=[{"target": ["img"], "html": "<img\u0000>"}])), "must not contain the NUL",
        f"{V}.nodes[0].html"),
    "NUL in a sample's selector": (
        as_json(page(nodes=[{"target": [["iframe", "img\u0000"]]}])), "must not contain the NUL",
        f"{V}.nodes[0].target[0][1]"),
    "NUL in the axe version": (
        as_json({"url": "https://a.example/", "testEngine": {"version": "4\u0000"}, "violations": []}),
        "must not contain the NUL", "results.testEngine.version"),
    "a description over 2,000 characters": (
        as_json(page(description="d" * 2_001)), "'description' is 2,001 characters; the limit is 2,000",
        f"{V}.description"),
    "a 20 MB description": (
        as_json(page(description="d" * 20_000_000)), "'description' is 20,000,000 characters", f"{V}.description"),
    "help over 500 characters": (as_json(page(help="h" * 501)), "'help' is 501 characters", f"{V}.help"),
    "a help URL over 500 characters": (
        as_json(page(helpUrl="https://x.test/" + "u" * 500)), "'helpUrl' is 515 characters", f"{V}.helpUrl"),
    "a page url over 2,000 characters": (
        as_json({"url": "https://a.example/" + "p" * 2_000, "violations": []}), "'url' is 2,018 characters",
        "results.url"),
    "too many tags": (as_json(page(tags=["t"] * 101)), "'tags' holds 101 tags; the limit is 100", f"{V}.tags"),
    "a tag over 100 characters": (as_json(page(tags=["t" * 101])), "a tag is 101 characters", f"{V}.tags[0]"),
    "a lone surrogate": (as_json(page()).replace(b"alt text", b"\\ud800 text"), "not valid JSON", ""),
    "a sample that is not JSON": (
        b'{"url": "https://a.example/", "violations": [{"id": "x", "impact": "minor", "description": "d", '
        b'"help": "h", "nodes": [7]}]}', "'nodes' must be a list of objects", V),
}
LIMITS_NOT_REFUSED = {"a sample's html is cut to 2,000 characters": page(nodes=[{"html": "<p>" + "x" * 5_000}])}


@pytest.fixture
def token(org):
    return api_token_create(organization=org, name="CI")[1]


def api_upload(client, site, body: bytes, token):
    return client.post(f"/api/v1/sites/{site.pk}/scans", body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def nothing_written():
    return Scan.objects.count() == 0 and Violation.objects.count() == 0


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_api_refuses_each_bad_upload_as_json_with_reason_and_place(client, site, token, name):
    body, message, path = CORPUS[name]
    response = api_upload(client, site, body, token)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    answer = response.json()
    assert answer["detail"].startswith("nothing was imported: ") and message in answer["detail"]
    assert answer["path"] == path
    assert nothing_written()


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_form_refuses_each_bad_upload_with_reason_and_place(client, site, member_user, name):
    body, message, path = CORPUS[name]
    client.force_login(member_user)
    response = client.post(reverse("scan_upload", args=[site.pk]), {"results": SimpleUploadedFile("r.json", body)})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was imported." in text
    assert message.replace("'", "&#x27;") in text and (path or "Nothing") in text
    assert nothing_written()


def test_a_sample_excerpt_is_cut_not_refused(client, site, token):
    response = api_upload(client, site, as_json(LIMITS_NOT_REFUSED["a sample's html is cut to 2,000 characters"]), token)
    assert response.status_code == 201
    assert len(Violation.objects.get().samples[0]["html"]) == 2_000


def _wsgi(environ_overrides: dict, body: bytes, token: str, site_id: int):
    """Calls the real WSGI application with the environ a server builds (the test client always sets a length)."""
    environ = RequestFactory().post(f"/api/v1/sites/{site_id}/scans", b"", content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {token}").environ
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_TYPE": "application/json", **environ_overrides})
    status = []
    chunks = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    return int(status[0].split()[0]), json.loads(b"".join(chunks))


def test_a_chunked_upload_without_content_length_is_read_whole(site, token, transactional_db):
    body = factories.axe_fixture("multi_page__site.json")
    status, answer = _wsgi({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}, body, token, site.pk)
    assert status == 201, answer
    assert answer["pages_scanned"] > 1 and Violation.objects.filter(site=site).count() == answer["violations_found"] > 0


def test_a_chunked_upload_over_the_limit_is_413_and_writes_nothing(site, token, settings, transactional_db):
    settings.CONFIG = settings.CONFIG.replace(max_upload_bytes=1000)
    body = factories.axe_fixture("multi_page__site.json")
    status, answer = _wsgi({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}, body, token, site.pk)
    assert (status, answer["detail"]) == (413, "nothing was imported: the body is larger than that; the limit is 1000 bytes")
    assert nothing_written()


def test_a_chunked_upload_on_a_server_that_cannot_end_it_is_411(site, token, transactional_db):
    status, answer = _wsgi({"HTTP_TRANSFER_ENCODING": "chunked"}, b"{}", token, site.pk)
    assert (status, answer["detail"]) == (411, "nothing was imported: send a Content-Length header "
                                                "(this server cannot read chunked bodies)")


def test_a_content_length_that_is_not_a_number_is_400(site, token, transactional_db):
    status, answer = _wsgi({"CONTENT_LENGTH": "lots"}, b"{}", token, site.pk)
    assert (status, answer["detail"]) == (400, "nothing was imported: Content-Length 'lots' is not a number of bytes")


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/api/v1/no-such-thing", 404), ("delete", "/api/v1/sites", 405)])
def test_api_errors_are_json_never_an_html_page(client, token, db, method, path, status):
    response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == status and response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


_VALID = as_json(page())
_MUTATIONS = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, len(_VALID) - 1), st.just(b"")),
    st.tuples(st.just("insert"), st.integers(0, len(_VALID)),
              st.sampled_from([b"\x00", b"\\u0000", b"\xff", b"[[[[", b"}", b'"', b"\\", b",", b"\xc3", b"1e999"])),
    st.tuples(st.just("flip"), st.integers(0, len(_VALID) - 1), st.binary(min_size=1, max_size=1)),
)


@hsettings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_MUTATIONS)
def test_fuzzed_uploads_are_imported_or_refused_with_a_reason_never_a_server_error(client, site, token, mutation):
    kind, at, data = mutation
    body = _VALID[:at] if kind == "cut" else _VALID[:at] + data + _VALID[at + (kind == "flip"):]
    body = body or b" "  # the test client drops the content type of an empty body
    before = Scan.objects.count()
    response = api_upload(client, site, body, token)
    assert response.status_code in (201, 400), (body, response.content)
    assert response["Content-Type"].startswith("application/json")
    if response.status_code == 400:
        assert response.json()["detail"].startswith("nothing was imported: ")
        assert Scan.objects.count() == before
