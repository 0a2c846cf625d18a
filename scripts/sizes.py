"""Modules over 300 lines and functions over 40 under allyproof/ (STYLE: small modules, small functions).

    python scripts/sizes.py            prints every offender, longest first
A function's length is from its `def` (decorators included) to its last line; migrations are generated
and not counted. tests/test_sizes.py holds the known offenders, each with its reason, and fails on a new one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODULE_LINES, FUNCTION_LINES = 300, 40
ROOT = Path(__file__).resolve().parent.parent


def _sources(package: Path):
    for path in sorted(package.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def offenders(package: Path = ROOT / "allyproof") -> dict[str, int]:
    """`path` (module) or `path:qualified.name` (function) -> lines, for everything over its limit."""
    found: dict[str, int] = {}
    for path in _sources(package):
        text = path.read_text()
        name = path.relative_to(package.parent).as_posix()
        if len(text.splitlines()) > MODULE_LINES:
            found[name] = len(text.splitlines())
        for qualname, lines in _functions(ast.parse(text)):
            if lines > FUNCTION_LINES:
                found[f"{name}:{qualname}"] = lines
    return found


def _functions(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            yield prefix + node.name, node.end_lineno - start + 1
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


if __name__ == "__main__":
    found = offenders()
    for where, lines in sorted(found.items(), key=lambda item: -item[1]):
        print(f"{lines:5d}  {where}")
    sys.exit(1 if found else 0)
