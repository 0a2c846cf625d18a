"""Checks every Jira request and response against Atlassian's OpenAPI document, when it is present.

openapi-core needs ~100x longer per request on this 2.4 MB document than the sandbox's own work, so
operations are indexed once here and bodies validated with openapi-schema-validator (the validator
openapi-core itself uses) against the operation's schema, $refs resolved through a registry."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, OAS30WriteValidator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from . import specs

log = logging.getLogger("jira_sandbox")
DOC_URI = "urn:atlassian:jira-platform-openapi-v3"
# Gateway answers (auth, unknown site, rate limits, injected faults) are not per-operation responses.
GATEWAY_STATUSES = {401, 403, 404, 429, 500, 502, 503, 504}


@dataclass
class Failure:
    kind: str        # request | response | adf
    method: str
    path: str
    operation: str | None
    message: str
    time: float

    def __str__(self) -> str:
        return f"{self.kind} {self.method} {self.path} ({self.operation}): {self.message}"


@dataclass
class Operation:
    id: str
    template: str
    method: str
    spec: dict[str, Any]

    def scopes(self) -> list[list[str]]:
        """Each alternative set of OAuth 2.0 scopes that grants access (classic or granular)."""
        sets = [entry["scopes"] for entry in self.spec.get("x-atlassian-oauth2-scopes", [])
                if entry.get("scheme") == "OAuth2"]
        if not sets:
            sets = [s["OAuth2"] for s in self.spec.get("security", []) if "OAuth2" in s]
        return sets


class Conformance:
    def __init__(self) -> None:
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        doc = specs.openapi_document()
        self.enabled = doc is not None
        self._by_len: dict[int, list[tuple[list[str], dict[str, Any], str]]] = {}
        self._validators: dict[tuple[str, str], Any] = {}
        if doc is not None:
            self._registry = Registry().with_resource(DOC_URI, DRAFT4.create_resource(doc))
            for template, item in doc["paths"].items():
                parts = template.strip("/").split("/")
                self._by_len.setdefault(len(parts), []).append((parts, item, template))

    def reset(self) -> None:
        with self._lock:
            self.failures.clear()

    def record(self, failure: Failure) -> None:
        log.warning("sandbox.conformance_failure %s", failure)
        with self._lock:
            self.failures.append(failure)

    def find(self, method: str, api_path: str) -> Operation | None:
        """The documented operation for a path like /rest/api/3/issue/ACME-1 (literal segments win)."""
        parts = api_path.strip("/").split("/")
        best, best_literals = None, -1
        for tparts, item, template in self._by_len.get(len(parts), []):
            literals = 0
            for t, p in zip(tparts, parts):
                if t.startswith("{"):
                    continue
                if t != p:
                    break
                literals += 1
            else:
                if method.lower() in item and literals > best_literals:
                    best, best_literals = (template, item), literals
        if best is None:
            return None
        template, item = best
        op = item[method.lower()]
        return Operation(op.get("operationId", template), template, method, op)

    def _validator(self, cls: Any, pointer: str) -> Any:
        key = (cls.__name__, pointer)
        if key not in self._validators:
            self._validators[key] = cls({"$ref": f"{DOC_URI}#{pointer}"}, registry=self._registry)
        return self._validators[key]

    def request_errors(self, op: Operation, query: dict[str, list[str]], body: Any, has_body: bool) -> list[str]:
        errors = self._param_errors(op, query)
        content = op.spec.get("requestBody", {}).get("content", {}).get("application/json")
        if op.spec.get("requestBody", {}).get("required") and not has_body:
            errors.append("request body is required")
        elif content and has_body and "schema" in content:
            pointer = _pointer(op, "requestBody/content/application~1json/schema")
            errors += [_describe(e) for e in self._validator(OAS30WriteValidator, pointer).iter_errors(body)]
        return errors

    def _param_errors(self, op: Operation, query: dict[str, list[str]]) -> list[str]:
        errors = []
        for i, param in enumerate(op.spec.get("parameters", [])):
            if param.get("in") != "query" or "name" not in param:
                continue  # $ref'd parameters do not occur on the operations the sandbox serves
            name, schema = param["name"], param.get("schema", {})
            if name not in query:
                if param.get("required"):
                    errors.append(f"query parameter {name} is required")
                continue
            value = _coerce(query[name], schema)
            if value is _BAD:
                errors.append(f"query parameter {name}={query[name]!r} is not a valid {schema.get('type')}")
                continue
            pointer = _pointer(op, f"parameters/{i}/schema")
            errors += [f"query parameter {name}: {_describe(e)}"
                       for e in self._validator(OAS30Validator, pointer).iter_errors(value)]
        return errors

    def response_errors(self, op: Operation, status: int, body: Any) -> list[str]:
        responses = op.spec.get("responses", {})
        spec = responses.get(str(status)) or responses.get("default")
        if spec is None:
            if status in GATEWAY_STATUSES or status >= 300:
                return []
            return [f"status {status} is not a documented response of {op.id}"]
        content = spec.get("content", {}).get("application/json")
        if not content or "schema" not in content or body is None:
            return []
        code = str(status) if str(status) in responses else "default"
        pointer = _pointer(op, f"responses/{code}/content/application~1json/schema")
        return [_describe(e) for e in self._validator(OAS30ReadValidator, pointer).iter_errors(body)]


_BAD = object()


def _pointer(op: Operation, rest: str) -> str:
    template = op.template.replace("~", "~0").replace("/", "~1")
    return f"/paths/{template}/{op.method.lower()}/{rest}"


def _coerce(values: list[str], schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "array":
            item_type = schema.get("items", {}).get("type")
            items = [v for raw in values for v in raw.split(",")]
            return [int(v) for v in items] if item_type == "integer" else items
        raw = values[-1]
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                return _BAD
            return raw.lower() == "true"
        return raw
    except ValueError:
        return _BAD


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) < 300 else error.message[:300] + "…"
    return f"{where or '(root)'}: {message}"
