"""What the OpenAPI document says beyond what django-ninja derives: every answer, described.

The upload body's schema states exactly what ingestion accepts (allyproof.monitoring.limits), so a
body valid by the schema is imported and one the reader refuses is invalid by it; the fuzz in
tests/hardening/test_api_fuzz.py holds the two together.
"""

from __future__ import annotations

from typing import Any
from allyproof.core import impact as impacts
from allyproof.monitoring.limits import MAX_TAGS, REFUSED_ABOVE

MAX_ID = 2**63 - 1  # the database's bigint
MAX_OFFSET = 1_000_000_000
NO_NUL = "^[^\\x00]*$"
NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"  # at least one non-space character, and no NUL


def _string(limit: int, pattern: str = NOT_BLANK) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit, "pattern": pattern}


_NODE = {
    "type": "object",
    "properties": {
        "target": {"type": "array", "items": {"anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": {"type": "string", "pattern": NO_NUL}},
        ]}},
        "html": {"type": "string", "pattern": NO_NUL},
        "failureSummary": {"type": "string", "pattern": NO_NUL},
    },
}
_VIOLATION = {
    "type": "object",
    "required": ["id", "impact", "description", "help"],
    "properties": {
        "id": _string(REFUSED_ABOVE["id"]),
        "impact": {"type": "string", "enum": list(impacts.VALUES)},
        "description": _string(REFUSED_ABOVE["description"]),
        "help": _string(REFUSED_ABOVE["help"]),
        "helpUrl": {"type": ["string", "null"], "maxLength": REFUSED_ABOVE["helpUrl"], "pattern": NO_NUL},
        "tags": {"type": ["array", "null"], "maxItems": MAX_TAGS,
                 "items": {"type": "string", "maxLength": REFUSED_ABOVE["tag"], "pattern": NO_NUL}},
        "nodes": {"type": ["array", "null"], "items": _NODE},
    },
}
AXE_PAGE = {
    "type": "object",
    "description": "What axe.run() returns for one page; only the fields listed here are read.",
    "required": ["url", "violations"],
    "properties": {
        "url": _string(REFUSED_ABOVE["url"]),
        "testEngine": {"type": "object", "properties": {"version": {"type": "string", "pattern": NO_NUL}}},
        "violations": {"type": "array", "items": _VIOLATION},
    },
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "axe-core results: one axe.run() result, a list of them (one per page, at least one), "
        "or a file written by `@axe-core/cli --save`. The README's field limits apply.",
        "content": {"application/json": {"schema": {"oneOf": [
            {"$ref": "#/components/schemas/AxePage"},
            {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/AxePage"}},
        ]}}},
    }
}

_VALIDATION_ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": {
        "type": "object", "required": ["loc", "msg"],
        "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}, "type": {"type": "string"}},
    }}},
}
ANSWERS = {
    "200": "The result.",
    "201": "The scan was imported; the body says what it found.",
    "400": "Refused: `detail` says why and `path` where (in the file, or which parameter); nothing was written.",
    "401": "No API token, or a wrong or revoked one.",
    "404": "No such site in the token's organization.",
    "411": "A chunked body on a server that cannot read one: send a Content-Length.",
    "413": "The body is larger than the upload limit (ALLYPROOF_MAX_UPLOAD_MB); nothing was written.",
    "415": "The body is not application/json; nothing was written.",
    "422": "A path or query parameter is not of its documented type or range.",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Adds the answers ninja answers itself (401 from auth, 422 from parameter parsing) and describes all."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["AxePage"] = AXE_PAGE
    components["ValidationErrorOut"] = _VALIDATION_ERROR
    for operations in document["paths"].values():
        for operation in operations.values():
            answers = operation["responses"]
            for status in list(answers):  # ninja keys some answers by int, some by str
                answers[str(status)] = answers.pop(status)
            answers.setdefault("401", {"content": _json({"$ref": "#/components/schemas/ErrorOut"})})
            if operation.get("parameters"):
                answers.setdefault("422", {"content": _json({"$ref": "#/components/schemas/ValidationErrorOut"})})
            for status, answer in answers.items():
                answer["description"] = ANSWERS[status]
    return document
