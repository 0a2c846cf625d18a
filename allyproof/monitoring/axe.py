"""Streaming reader and aggregator for axe-core results. Pure: no database, no Django.

Accepts the three shapes agencies have at hand:
  * what `axe.run()` returns for one page (one JSON object),
  * a JSON list of those, one per page (each with its `url`),
  * the file `@axe-core/cli --save` writes (also a list of per-page results).

Speed and memory: a page of axe output is ~100–200 KB, most of it `passes`, `inapplicable` and
each node's check details, none of which we keep. msgspec decodes a page straight into the few
fields we use and skips the rest in C; each failing node stays an undecoded byte slice unless it
becomes one of the few samples. Lists are read in 4 MiB chunks, one page at a time, so a
5,000-page file never sits whole in memory (measured in bench/ingest.py).

Every problem raises `AxeResultsError` naming where it is (`pages[12].violations[3].impact`)
before the caller has written anything.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec

from allyproof.core.impact import RANK as IMPACT_RANK

from . import limits
from .axe_errors import AxeResultsError

SAMPLE_LIMIT = 5
HTML_SNIPPET_LIMIT = limits.CUT_TO["html"]
CHUNK = 4 * 1024 * 1024




# What we read of a page; everything else in axe's output is skipped without being built.
class _Violation(msgspec.Struct):
    id: Any = None
    impact: Any = None
    description: Any = None
    help: Any = None
    helpUrl: Any = None
    tags: Any = None
    nodes: list[msgspec.Raw] | None = None


class _Page(msgspec.Struct):
    url: Any = None
    testEngine: Any = None
    violations: list[_Violation] | None = None
    incomplete: list[_Violation] | None = None


_DECODER = msgspec.json.Decoder(_Page)
_NODE_DECODER = msgspec.json.Decoder(dict)


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
    # Every page the results cover, in order (violations or not): the scan's coverage.
    pages: list[str] = field(default_factory=list)
    # axe's "needs review" (incomplete) results per rule: {rule_id: {"impact", "help", "pages", "elements"}}.
    needs_review: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- splitting a stream into pages ------------------------------------------------------------

_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_GAP = re.compile(rb"[ \t\r\n]*")
_JSON_PATH = re.compile(r" - at `\$(.*)`$")


class _Buffer:
    """Bytes read so far from the stream, with a cursor; refills in CHUNK-sized reads."""

    def __init__(self, stream: IO[bytes], chunk_size: int = CHUNK):
        self.stream, self.data, self.pos, self.eof = stream, b"", 0, False
        self.chunk_size = chunk_size
        self.read_so_far = 0
        # msgspec checks UTF-8 only in the fields it decodes; JSON is UTF-8 throughout, so check it all.
        self.utf8 = codecs.getincrementaldecoder("utf-8")()

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_size)
        if isinstance(chunk, str):
            chunk = chunk.encode()
        self.eof = not chunk
        try:
            if not (chunk.isascii() and not self.utf8.getstate()[0]):  # ASCII: valid, and no decoding cost
                self.utf8.decode(chunk, final=self.eof)
        except UnicodeDecodeError as error:
            at = self.read_so_far + error.start
            raise AxeResultsError(f"the file is not valid UTF-8 text (byte {at:,})") from None
        self.read_so_far += len(chunk)
        self.data, self.pos = self.data[self.pos :] + chunk, 0
        return bool(chunk)

    def skip_gap(self) -> None:
        while True:
            self.pos = _GAP.match(self.data, self.pos).end()
            if self.pos < len(self.data) or not self.fill():
                return

    def peek(self) -> bytes:
        self.skip_gap()
        return self.data[self.pos : self.pos + 1]


def _validation_error(error: msgspec.ValidationError, path: str) -> AxeResultsError:
    text = str(error)
    match = _JSON_PATH.search(text)
    inner = match.group(1) if match else ""
    where = f"{path}{inner}" if path else inner.lstrip(".")
    where = where or "results"
    if not inner:
        return AxeResultsError("each page result must be a JSON object", where)
    if inner == ".violations":
        return AxeResultsError("missing the 'violations' list (is this axe-core output?)", where)
    if inner.endswith(".nodes"):
        return AxeResultsError("'nodes' must be a list of objects", where.removesuffix(".nodes"))
    if re.fullmatch(r"\.violations\[\d+\]", inner):
        return AxeResultsError("each violation must be an object", where)
    return AxeResultsError(f"unexpected value ({_JSON_PATH.sub('', text)})", where)


def _decode(decoder: msgspec.json.Decoder, data, path: str):
    """Decodes with every failure but msgspec's DecodeError turned into an AxeResultsError at `path`."""
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as error:
        raise _validation_error(error, path) from None
    except UnicodeDecodeError:
        raise AxeResultsError("a string is not valid UTF-8 text", path or "results") from None
    except RecursionError:
        raise AxeResultsError("JSON is nested too deeply", path or "results") from None


def _decode_next(buffer: _Buffer, path: str) -> _Page:
    """Decodes the JSON value at the cursor and moves past it."""
    while True:
        view = memoryview(buffer.data)[buffer.pos :]
        try:
            page = _decode(_DECODER, view, path)
            buffer.pos = len(buffer.data)
            return page
        except msgspec.DecodeError as error:
            # msgspec has no raw_decode: a complete value followed by more data is reported as
            # "trailing characters (byte N)", N counted from 1, which tells us where the page ends.
            trailing = _TRAILING.search(str(error))
            if trailing:
                end = buffer.pos + int(trailing.group(1)) - 1
                try:
                    page = _decode(_DECODER, memoryview(buffer.data)[buffer.pos : end], path)
                except msgspec.DecodeError as inner:
                    raise AxeResultsError(f"not valid JSON ({inner})", path) from None
                buffer.pos = end
                return page
            if not buffer.fill():
                raise AxeResultsError(f"not valid JSON ({error})") from None


def iter_pages(stream: IO[bytes], chunk_size: int = CHUNK) -> Iterator[tuple[str, _Page]]:
    """Yields (path, page) for each page in the stream."""
    buffer = _Buffer(stream, chunk_size)
    buffer.fill()
    if buffer.data.startswith(b"\xef\xbb\xbf"):
        buffer.pos = 3
    first = buffer.peek()
    if not first:
        raise AxeResultsError("the file is empty: expected axe-core results as JSON")
    if first == b"{":
        yield "", _decode_next(buffer, "")
        if buffer.peek():
            raise AxeResultsError("not valid JSON (more data after the result object)")
        return
    if first != b"[":
        raise AxeResultsError(
            "not axe-core results: expected a JSON object (one page) or a list of them (one per page)"
        )
    buffer.pos += 1
    index = 0
    while True:
        token = buffer.peek()
        if not token:
            raise AxeResultsError("not valid JSON (the list is cut short)")
        if token == b"]":
            if index == 0:
                raise AxeResultsError("the list holds no page results")
            buffer.pos += 1
            if buffer.peek():
                raise AxeResultsError("not valid JSON (more data after the list)")
            return
        if index:
            if token != b",":
                raise AxeResultsError(f"not valid JSON (expected ',' or ']' after page {index - 1})")
            buffer.pos += 1
            buffer.skip_gap()
        if not buffer.peek():
            raise AxeResultsError("not valid JSON (the list is cut short)")
        yield f"pages[{index}]", _decode_next(buffer, f"pages[{index}]")
        index += 1


# --- validation and aggregation ---------------------------------------------------------------


def _sample(raw: msgspec.Raw, path: str) -> dict[str, Any]:
    try:
        node = _decode(_NODE_DECODER, raw, path)
    except msgspec.DecodeError as error:
        raise AxeResultsError(f"not valid JSON ({error})", path) from None
    return {
        "target": limits.target(node.get("target") or [], f"{path}.target"),
        "html": limits.excerpt(node.get("html"), f"{path}.html", "html"),
        "failure_summary": limits.excerpt(node.get("failureSummary"), f"{path}.failureSummary", "failureSummary"),
    }


def _add_violation(scan: ScanAggregate, url: str, violation: _Violation, path: str) -> None:
    rule_id = violation.id
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise AxeResultsError("missing rule 'id'", path)
    limits.text(rule_id, path, "id")
    impact = violation.impact
    if impact not in IMPACT_RANK:
        raise AxeResultsError(
            f"rule {rule_id!r} has unknown impact {impact!r} (expected critical, serious, moderate or minor)",
            f"{path}.impact",
        )
    tags = limits.tags(violation.tags, path)
    nodes = violation.nodes or []
    if any(bytes(memoryview(node)[:1]) != b"{" for node in nodes):
        raise AxeResultsError("'nodes' must be a list of objects", path)

    rule = scan.rules.get(rule_id)
    if rule is None:
        rule = scan.rules[rule_id] = RuleAggregate(
            rule_id=rule_id,
            impact=impact,
            description=limits.text(violation.description, path, "description"),
            help=limits.text(violation.help, path, "help"),
            help_url=limits.text(violation.helpUrl, path, "helpUrl", required=False),
            tags=tags,
        )
    elif IMPACT_RANK[impact] > IMPACT_RANK[rule.impact]:
        rule.impact = impact  # the same rule can be more severe on another page
    rule.pages.append(url)
    rule.element_count += len(nodes)
    for index, node in enumerate(nodes[: max(0, SAMPLE_LIMIT - len(rule.samples))]):
        sample = _sample(node, f"{path}.nodes[{index}]")
        # A site-wide element (a chat widget, the footer) fails on every page: one sample of it leaves the
        # other slots to other elements (the demo's violation page showed one launcher three times).
        if not any(s["target"] == sample["target"] and s["html"] == sample["html"] for s in rule.samples):
            rule.samples.append(sample)


def aggregate(stream: IO[bytes], chunk_size: int = CHUNK) -> ScanAggregate:
    """Reads a whole results stream into one per-rule aggregate, validating as it goes."""
    scan = ScanAggregate()
    seen_urls: set[str] = set()
    for path, page in iter_pages(stream, chunk_size):
        where = path or "results"
        url = page.url
        if not isinstance(url, str) or not url.strip():
            raise AxeResultsError("missing the page 'url'", where)
        limits.text(url, where, "url")
        if page.violations is None:
            raise AxeResultsError("missing the 'violations' list (is this axe-core output?)", where)
        if not scan.axe_version and isinstance(page.testEngine, dict):
            scan.axe_version = limits.excerpt(page.testEngine.get("version"), f"{where}.testEngine.version", "version")
        if url in seen_urls:
            continue  # the same page twice in one scan counts once
        seen_urls.add(url)
        scan.pages.append(url)
        scan.pages_scanned += 1
        prefix = f"{path}.violations" if path else "violations"
        for index, violation in enumerate(page.violations):
            _add_violation(scan, url, violation, f"{prefix}[{index}]")
        _add_needs_review(scan, page.incomplete)
    return scan


def _add_needs_review(scan: ScanAggregate, incomplete: Any) -> None:
    """Lenient on purpose: review items are informational, so a malformed one is skipped, not fatal."""
    for item in incomplete if isinstance(incomplete, list) else []:
        if not isinstance(item.id, str) or not item.id:
            continue
        entry = scan.needs_review.setdefault(item.id, {
            "rule_id": item.id, "impact": item.impact if item.impact in IMPACT_RANK else "",
            "help": str(item.help or "")[:500], "help_url": str(item.helpUrl or "")[:500], "pages": 0, "elements": 0,
        })
        entry["pages"] += 1
        entry["elements"] += len(item.nodes or [])
