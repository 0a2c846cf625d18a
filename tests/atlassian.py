"""Atlassian's published documents (OpenAPI, ADF schema) for conformance tests.

They live beside the project in ../shared/atlassian/ (or ALLYPROOF_ATLASSIAN_DIR); on a user's machine
they may be absent, and the tests that need them skip — unless ALLYPROOF_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def atlassian_dir() -> Path:
    return Path(os.environ.get("ALLYPROOF_ATLASSIAN_DIR") or ROOT.parent / "shared" / "atlassian")


@functools.cache
def _load(name: str):
    return json.loads((atlassian_dir() / name).read_text())


def adf_schema() -> dict:
    path = atlassian_dir() / "adf-schema-v1-full.json"
    if not path.exists():
        reason = f"needs Atlassian's ADF schema at {path} (set ALLYPROOF_ATLASSIAN_DIR)"
        if os.environ.get("ALLYPROOF_REQUIRE_SERVICES") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return _load("adf-schema-v1-full.json")


def assert_valid_adf(document: dict) -> None:
    import jsonschema

    validator = jsonschema.Draft4Validator(adf_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: e.path)
    assert not errors, f"not valid ADF: {errors[0].message} at {list(errors[0].path)}"
