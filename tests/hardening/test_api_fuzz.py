"""Issue 13, case 5: the API against its own OpenAPI document, fuzzed with Schemathesis over WSGI.

Every answer must be documented, match its schema and content type, and none may be a server error;
a body valid by the document must be imported. Bounded and deterministic for CI (see `_CI` below).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from allyproof.accounts.services import api_token_create
from allyproof.wsgi import application
from tests import factories

# CI's bound; ALLYPROOF_FUZZ_EXAMPLES=2000 ./dev test tests/hardening/test_api_fuzz.py is a long run.
_CI = settings(max_examples=int(os.environ.get("ALLYPROOF_FUZZ_EXAMPLES", "40")), derandomize=True, deadline=None, database=None,
               suppress_health_check=list(HealthCheck))


# Loaded at import over WSGI (the document needs no database); schemathesis' lazy fixture loader does
# not run under this pytest.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
# Unknown query parameters are ignored, as most APIs do; the document does not promise to refuse them.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True, allow_extra_parameters=False
)


@pytest.fixture
def in_test_transaction():
    """Keeps Django from closing the test's connection after each WSGI call, as its test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_world(org, in_test_transaction):
    site = factories.site(org)
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    return site, api_token_create(organization=org, name="fuzz")[1]


@schema.parametrize()
@schema.given(own_site=st.booleans())
@_CI
def test_the_api_keeps_every_promise_of_its_document(case, api_world, own_site):
    site, token = api_world
    positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if own_site and positive and "site_id" in (case.path_parameters or {}):
        case.path_parameters["site_id"] = site.pk  # half the cases reach a real site, not a 404
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
