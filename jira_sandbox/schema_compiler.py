"""Compiles the draft-04 subset the ADF schema uses into plain Python checks.

jsonschema takes ~25-110 ms on a 50-paragraph ADF document because ADF is a tree of wide anyOf's;
this compiled form answers valid/invalid in well under a millisecond. jsonschema stays the authority:
it runs whenever this says "invalid", to confirm and to word the error.
"""
from __future__ import annotations

import re
from typing import Any
from collections.abc import Callable

Check = Callable[[Any], bool]
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
SUPPORTED = {"type", "$ref", "properties", "additionalProperties", "required", "enum", "items", "anyOf",
             "allOf", "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "pattern",
             "description", "$schema", "definitions", "oneOf"}


class SchemaCompiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._refs: dict[str, Check] = {}

    def compile(self, schema: Any = None) -> Check:
        return self._compile(self.root if schema is None else schema)

    def _ref(self, ref: str) -> Check:
        if ref not in self._refs:
            self._refs[ref] = lambda v: False  # placeholder breaks recursion; replaced below
            target: Any = self.root
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
            compiled = self._compile(target)
            self._refs[ref] = compiled
        return lambda v: self._refs[ref](v)

    def _compile(self, s: dict[str, Any]) -> Check:
        unknown = set(s) - SUPPORTED
        if unknown:
            raise ValueError(f"unsupported keywords {unknown}")
        checks: list[Check] = []
        if "$ref" in s:
            checks.append(self._ref(s["$ref"]))
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            fns = [_TYPES[t] for t in types]
            checks.append(fns[0] if len(fns) == 1 else (lambda v: any(f(v) for f in fns)))
        if "enum" in s:
            allowed = s["enum"]
            checks.append(lambda v: any(v == a and type(v) is type(a) for a in allowed))
        checks += self._object_checks(s) + self._array_checks(s) + self._scalar_checks(s)
        checks += self._combinators(s)
        return _all(checks)

    def _object_checks(self, s: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        props = {k: self._compile(v) for k, v in s.get("properties", {}).items()}
        required = s.get("required", [])
        addl = s.get("additionalProperties", True)
        addl_check = self._compile(addl) if isinstance(addl, dict) else None

        def obj(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if any(r not in v for r in required):
                return False
            for k, val in v.items():
                if k in props:
                    if not props[k](val):
                        return False
                elif addl is False:
                    return False
                elif addl_check is not None and not addl_check(val):
                    return False
            return True
        if props or required or addl is not True:
            out.append(obj)
        return out

    def _array_checks(self, s: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "items" in s:
            items = s["items"]
            if isinstance(items, list):
                tuple_checks = [self._compile(i) for i in items]
                out.append(lambda v: not isinstance(v, list) or all(c(x) for c, x in zip(tuple_checks, v)))
            else:
                item = self._compile(items)
                def each(v: Any) -> bool:
                    if isinstance(v, list):
                        for x in v:
                            if not item(x):
                                return False
                    return True
                out.append(each)
        if "minItems" in s:
            n = s["minItems"]
            out.append(lambda v: not isinstance(v, list) or len(v) >= n)
        if "maxItems" in s:
            m = s["maxItems"]
            out.append(lambda v: not isinstance(v, list) or len(v) <= m)
        return out

    def _scalar_checks(self, s: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "minLength" in s:
            n = s["minLength"]
            out.append(lambda v: not isinstance(v, str) or len(v) >= n)
        if "maxLength" in s:
            m = s["maxLength"]
            out.append(lambda v: not isinstance(v, str) or len(v) <= m)
        if "pattern" in s:
            rx = re.compile(s["pattern"])
            out.append(lambda v: not isinstance(v, str) or rx.search(v) is not None)
        num = _TYPES["number"]
        if "minimum" in s:
            lo = s["minimum"]
            out.append(lambda v: not num(v) or v >= lo)
        if "maximum" in s:
            hi = s["maximum"]
            out.append(lambda v: not num(v) or v <= hi)
        return out

    def _combinators(self, s: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "allOf" in s:
            out.append(_all([self._compile(x) for x in s["allOf"]]))
        if "anyOf" in s:
            out.append(self._any_of(s["anyOf"]))
        if "oneOf" in s:
            one = [self._compile(x) for x in s["oneOf"]]
            out.append(lambda v: sum(1 for b in one if b(v)) == 1)
        return out


    def _any_of(self, schemas: list[Any]) -> Check:
        """ADF's anyOf lists are unions of node kinds told apart by `type`: dispatch on it."""
        branches = [self._compile(x) for x in schemas]
        kinds = [self._type_enum(x) for x in schemas]
        if any(k is None for k in kinds):
            return lambda v: any(b(v) for b in branches)
        table: dict[Any, list[Check]] = {}
        for kind, branch in zip(kinds, branches):
            for value in kind or []:
                table.setdefault(value, []).append(branch)

        def dispatch(v: Any) -> bool:
            if not isinstance(v, dict):
                return False  # every branch requires an object with a type
            kind = v.get("type")
            for branch in table.get(kind, ()) if isinstance(kind, str) else ():
                if branch(v):
                    return True
            return False
        return dispatch

    def _type_enum(self, s: Any, depth: int = 0) -> list[Any] | None:
        """The values a branch allows for `type` when it requires an object; None if unknown."""
        if not isinstance(s, dict) or depth > 8:
            return None
        if "$ref" in s:
            target: Any = self.root
            for part in s["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return self._type_enum(target, depth + 1)
        for sub in s.get("allOf", []):
            found = self._type_enum(sub, depth + 1)
            if found is not None:
                return found
        if s.get("type") == "object" and "type" in s.get("required", []):
            enum = s.get("properties", {}).get("type", {}).get("enum")
            return list(enum) if enum else None
        return None


def _all(checks: list[Check]) -> Check:
    # Unrolled for the common sizes: generator-based all() costs more than the checks themselves.
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    if len(checks) == 3:
        a, b, c = checks
        return lambda v: a(v) and b(v) and c(v)
    head, rest = checks[0], _all(checks[1:])
    return lambda v: head(v) and rest(v)
