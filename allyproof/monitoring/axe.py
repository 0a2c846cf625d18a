"""Streaming reader and aggregator for axe-core results. Pure: no database, no Django.

Accepts the three shapes agencies have at hand:
  * what `axe.run()` returns for one page (one JSON object),
  * a JSON list of those, one per page (each with its `url`),
  * the file `@axe-core/cli --save` writes (also a list of per-page results).
Lists are read one page at a time with ijson, so a 5,000-page file never sits whole in memory;
only the per-rule aggregate (rule metadata, page URLs, a few sample elements) is kept.
Every problem raises `AxeResultsError` naming where it is (`pages[12].violations[3].impact`)
before the caller has written anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson

IMPACTS = ("critical", "serious", "moderate", "minor")
_RANK = {impact: len(IMPACTS) - i for i, impact in enumerate(IMPACTS)}
SAMPLE_LIMIT = 5
HTML_SNIPPET_LIMIT = 2_000


class AxeResultsError(ValueError):
    def __init__(self, message: str, path: str = ""):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


@dataclass
class RuleAggregate:
    rule_id: str
    impact: str
    description: str
    help: str
    help_url: str
    tags: list[str]
    pages: list[str] = field(default_factory=list)
    element_count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def wcag_tags(self) -> list[str]:
        return [tag for tag in self.tags if tag.startswith("wcag")]


@dataclass
class ScanAggregate:
    pages_scanned: int = 0
    axe_version: str = ""
    rules: dict[str, RuleAggregate] = field(default_factory=dict)


class _Prefixed:
    """A file-like that replays bytes already read (to sniff the shape) before the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


def _sniff(stream: IO[bytes]) -> tuple[str, IO[bytes]]:
    head = b""
    while True:
        chunk = stream.read(512)
        if not chunk:
            raise AxeResultsError("the file is empty: expected axe-core results as JSON")
        if isinstance(chunk, str):
            chunk = chunk.encode()
        head += chunk
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped:
            return stripped[:1].decode("latin-1"), _Prefixed(head, stream)


def iter_pages(stream: IO[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yields (path, page result) for each page in the stream."""
    first, stream = _sniff(stream)
    try:
        if first == "{":
            for page in ijson.items(stream, "", use_float=True):
                yield "", page
        elif first == "[":
            count = 0
            for count, page in enumerate(ijson.items(stream, "item", use_float=True), start=1):
                yield f"pages[{count - 1}]", page
            if count == 0:
                raise AxeResultsError("the list holds no page results")
        else:
            raise AxeResultsError(
                "not axe-core results: expected a JSON object (one page) or a list of them (one per page)"
            )
    except ijson.JSONError as error:
        raise AxeResultsError(f"not valid JSON ({error})") from None


def _text(value: Any, path: str, name: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise AxeResultsError(f"'{name}' must be a non-empty string", path)
    return value


def _nodes(violation: dict[str, Any], path: str) -> list[dict[str, Any]]:
    nodes = violation.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(node, dict) for node in nodes):
        raise AxeResultsError("'nodes' must be a list of objects", path)
    return nodes


def _sample(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": node.get("target") or [],
        "html": str(node.get("html") or "")[:HTML_SNIPPET_LIMIT],
        "failure_summary": str(node.get("failureSummary") or ""),
    }


def _add_violation(scan: ScanAggregate, url: str, violation: Any, path: str) -> None:
    if not isinstance(violation, dict):
        raise AxeResultsError("each violation must be an object", path)
    rule_id = violation.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise AxeResultsError("missing rule 'id'", path)
    impact = violation.get("impact")
    if impact not in _RANK:
        raise AxeResultsError(
            f"rule {rule_id!r} has unknown impact {impact!r} (expected critical, serious, moderate or minor)",
            f"{path}.impact",
        )
    tags = violation.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise AxeResultsError("'tags' must be a list of strings", f"{path}.tags")
    nodes = _nodes(violation, path)

    rule = scan.rules.get(rule_id)
    if rule is None:
        rule = scan.rules[rule_id] = RuleAggregate(
            rule_id=rule_id,
            impact=impact,
            description=_text(violation.get("description"), path, "description"),
            help=_text(violation.get("help"), path, "help"),
            help_url=_text(violation.get("helpUrl"), path, "helpUrl", required=False),
            tags=tags,
        )
    elif _RANK[impact] > _RANK[rule.impact]:
        rule.impact = impact  # the same rule can be more severe on another page
    rule.pages.append(url)
    rule.element_count += len(nodes)
    for node in nodes[: max(0, SAMPLE_LIMIT - len(rule.samples))]:
        rule.samples.append(_sample(node))


def aggregate(stream: IO[bytes]) -> ScanAggregate:
    """Reads a whole results stream into one per-rule aggregate, validating as it goes."""
    scan = ScanAggregate()
    seen_urls: set[str] = set()
    for path, page in iter_pages(stream):
        where = path or "results"
        if not isinstance(page, dict):
            raise AxeResultsError("each page result must be a JSON object", where)
        url = page.get("url")
        if not isinstance(url, str) or not url.strip():
            raise AxeResultsError("missing the page 'url'", where)
        violations = page.get("violations")
        if not isinstance(violations, list):
            raise AxeResultsError("missing the 'violations' list (is this axe-core output?)", where)
        if not scan.axe_version:
            engine = page.get("testEngine")
            if isinstance(engine, dict):
                scan.axe_version = str(engine.get("version") or "")[:40]
        if url in seen_urls:
            continue  # the same page twice in one scan counts once
        seen_urls.add(url)
        scan.pages_scanned += 1
        prefix = f"{path}.violations" if path else "violations"
        for index, violation in enumerate(violations):
            _add_violation(scan, url, violation, f"{prefix}[{index}]")
    return scan
