"""Test environment, set before Django reads its settings.

Loaded as a plugin (`-p tests.environment` in pyproject.toml) because pytest-django configures
Django before any conftest.py is imported.
"""

import os
import tempfile

os.environ["ALLYPROOF_ENV"] = "test"
os.environ.setdefault("ALLYPROOF_DATA_DIR", tempfile.mkdtemp(prefix="allyproof-test-"))
os.environ.setdefault("ALLYPROOF_PUBLIC_URL", "http://testserver")
os.environ.setdefault("ATLASSIAN_CLIENT_ID", "allyproof-sandbox")
os.environ.setdefault("ATLASSIAN_CLIENT_SECRET", "sandbox-client-secret")
os.environ.setdefault("ATLASSIAN_AUTH_URL", "http://sandbox.test")
os.environ.setdefault("ATLASSIAN_API_URL", "http://sandbox.test")
if os.environ.get("ALLYPROOF_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["ALLYPROOF_TEST_DATABASE_URL"]
else:
    os.environ.pop("DATABASE_URL", None)
# Pacing off unless a test is about it: the gate's own tests build gates with their intervals and injected
# clocks, and the worker tests set theirs. Elsewhere the default 150 ms was a real sleep between a test's calls
# to one site (saving rules alone makes three): test_push, test_jobs and test_autopush took 46 s with it, 24 s
# without. The gate still runs on every call, with a zero spacing.
os.environ.setdefault("JIRA_PUSH_INTERVAL_MS", "0")
# Tests choose their queue explicitly; a stray REDIS_URL must not switch the whole suite.
os.environ.pop("REDIS_URL", None)
