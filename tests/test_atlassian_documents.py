"""The Atlassian conformance check cannot pass vacuously: on CI (ALLYPROOF_REQUIRE_SERVICES=1) the
documents must be there and switched on; elsewhere their absence is a skip that says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jira_sandbox import specs
from jira_sandbox.adf import AdfSchema
from jira_sandbox.conformance import Conformance
from tests import atlassian

ROOT = Path(__file__).resolve().parents[1]
SPEC_TESTS = [
    "tests/test_atlassian_documents.py::test_the_conformance_check_is_on",
    "tests/jira/test_content.py::test_description_is_valid_adf_with_everything_a_fixer_needs",
    "jira_sandbox/tests/test_conformance.py::test_a_realistic_run_has_no_conformance_failures",
    "tests/jira/test_push.py::test_refused_by_the_gates",  # an ordinary test on the sandbox fixture
]


def test_the_conformance_check_is_on():
    """What every sandbox-based test relies on: both documents found, parsed and used."""
    missing = [name for name in (specs.OPENAPI_FILE, specs.ADF_FILE) if not (specs.atlassian_dir() / name).is_file()]
    if missing:
        reason = f"Atlassian's {', '.join(missing)} not in {specs.atlassian_dir()} (set ALLYPROOF_ATLASSIAN_DIR)"
        if os.environ.get("ALLYPROOF_REQUIRE_SERVICES") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    conformance, adf = Conformance(), AdfSchema()
    assert conformance.enabled and adf.enabled
    assert conformance.find("POST", "/rest/api/3/issue").id == "createIssue"  # the document is the real one
    assert adf.error({"type": "doc", "version": 1, "content": [{"type": "nonsense"}]}) is not None
    assert atlassian.adf_schema()["$schema"].startswith("http://json-schema.org/")


def run_without_documents(tmp_path, *, ci: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "ALLYPROOF_ATLASSIAN_DIR": str(tmp_path / "no-atlassian-documents"),
           "ALLYPROOF_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALLYPROOF_TEST_DATABASE_URL", None)  # SQLite: this run is about the documents
    env.pop("ALLYPROOF_REQUIRE_SERVICES", None)
    if ci:
        env["ALLYPROOF_REQUIRE_SERVICES"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-rfEs", *SPEC_TESTS],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_on_ci_missing_documents_fail_the_run(tmp_path):
    result = run_without_documents(tmp_path, ci=True)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-3000:]
    assert " passed" not in out.splitlines()[-1], out[-3000:]  # not one of them passes
    for test in SPEC_TESTS:
        assert any(line.startswith(("FAILED " + test, "ERROR " + test)) for line in out.splitlines()), (test, out[-3000:])
    missing = str(tmp_path / "no-atlassian-documents")
    assert f"{missing}/{specs.OPENAPI_FILE} is required (ALLYPROOF_REQUIRE_SERVICES=1)" in out


def test_elsewhere_missing_documents_are_a_skip_that_says_why(tmp_path):
    result = run_without_documents(tmp_path, ci=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    summary = out.splitlines()[-1]
    # The sandbox-based test runs with conformance off (a user's machine); the three checks skip, saying so.
    assert "1 passed" in summary and "3 skipped" in summary, out[-3000:]
    assert "not in " + str(tmp_path / "no-atlassian-documents") in out or "not found in" in out
