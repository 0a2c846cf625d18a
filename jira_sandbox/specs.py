"""Finds Atlassian's OpenAPI document and ADF schema at run time; they are data, never copied here."""
from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger("jira_sandbox")

OPENAPI_FILE = "jira-platform-openapi-v3.json"
ADF_FILE = "adf-schema-v1-full.json"
_warned = False


def atlassian_dir() -> Path:
    """ALLYPROOF_ATLASSIAN_DIR, else ../shared/atlassian relative to the repository root."""
    env = os.environ.get("ALLYPROOF_ATLASSIAN_DIR")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parent.parent
    return (repo_root / ".." / "shared" / "atlassian").resolve()


def services_required() -> bool:
    return os.environ.get("ALLYPROOF_REQUIRE_SERVICES") == "1"


@lru_cache(maxsize=4)
def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_spec(name: str) -> Any | None:
    """The parsed file, or None (logged once) when it is not on this machine."""
    global _warned
    path = atlassian_dir() / name
    if path.is_file():
        return _load(str(path))
    if services_required():
        raise FileNotFoundError(f"{path} is required (ALLYPROOF_REQUIRE_SERVICES=1)")
    if not _warned:
        log.warning("sandbox.conformance_off reason=%s not found; requests and ADF are not checked "
                    "against Atlassian's documents", path)
        _warned = True
    return None


def openapi_document() -> dict[str, Any] | None:
    return load_spec(OPENAPI_FILE)


def adf_schema() -> dict[str, Any] | None:
    return load_spec(ADF_FILE)
