"""Atlassian Document Format checks: Jira's own structural rules, then the published ADF schema."""
from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft4Validator

from . import specs
from .schema_compiler import SchemaCompiler

# Jira's words when a rich-text field is not ADF at all.
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
# Jira Cloud's multi-line text limit; implementers measure the serialised ADF (Atlassian notes §5.5).
MAX_CHARS = 32767
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."


def structural_error(value: Any) -> str | None:
    """Checks Jira applies whatever the schema says: a doc root, version 1, typed nodes, non-empty text."""
    if not isinstance(value, dict) or value.get("type") != "doc" or value.get("version") != 1:
        return NOT_ADF
    if not isinstance(value.get("content"), list):
        return NOT_ADF
    stack = list(value["content"])
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            return NOT_ADF
        if node["type"] == "text" and not (isinstance(node.get("text"), str) and node["text"]):
            return NOT_ADF
        content = node.get("content", [])
        if not isinstance(content, list):
            return NOT_ADF
        stack.extend(content)
    return None


def too_long(value: Any) -> bool:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))) > MAX_CHARS


class AdfSchema:
    """The ADF JSON schema when it is on this machine; `enabled` says whether it is."""

    def __init__(self) -> None:
        schema = specs.adf_schema()
        self.enabled = schema is not None
        if schema is not None:
            self._fast = SchemaCompiler(schema).compile()
            self._slow = Draft4Validator(schema)

    def error(self, value: Any) -> str | None:
        """None when valid (or the schema is absent), else where and why it does not conform."""
        if not self.enabled or self._fast(value):
            return None
        errors = sorted(self._slow.iter_errors(value), key=lambda e: len(list(e.absolute_path)), reverse=True)
        if not errors:
            return None
        deepest = errors[0]
        where = "/".join(str(p) for p in deepest.absolute_path) or "(root)"
        return f"at {where}: {_short(deepest.message)}"


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "…"
