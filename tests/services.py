"""Which outside services a test may use, and what to do when one is missing.

On a user's machine a test that needs PostgreSQL, Redis or Chromium skips with the reason; on CI
(ALLYPROOF_REQUIRE_SERVICES=1 / ALLYPROOF_REQUIRE_BROWSER=1) the same absence fails the run.
"""

from __future__ import annotations

import os
import socket

import pytest
from django.db import connection


def _missing(reason: str, flag: str) -> None:
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} ({flag}=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        _missing(
            "needs PostgreSQL: run with ALLYPROOF_TEST_DATABASE_URL=postgres://user@host:5432/db",
            "ALLYPROOF_REQUIRE_SERVICES",
        )


def redis_url() -> str:
    url = os.environ.get("ALLYPROOF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    host, _, port = url.split("//", 1)[1].split("/", 1)[0].rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=1).close()
    except OSError:
        _missing(f"needs Redis at {url} (set ALLYPROOF_TEST_REDIS_URL)", "ALLYPROOF_REQUIRE_SERVICES")
    return url
