"""A violation as a Jira issue: summary, ADF description, labels and the dedupe property. Pure.

ADF rules that matter here (adf-schema v1): text nodes must be non-empty; text inside a codeBlock
carries no marks; a listItem starts with a paragraph. Jira refuses descriptions whose serialized
JSON exceeds 32,767 characters, so the document is shrunk (fewer pages, samples, shorter snippets)
until it fits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from allyproof.core import impact as impacts
from allyproof.core.links import is_web_url, link_text
from allyproof.monitoring.targets import target_text

SUMMARY_LIMIT = 255
DESCRIPTION_LIMIT = 32_767  # Jira's, in characters of the ADF document's JSON
BUDGET = DESCRIPTION_LIMIT - 2_767  # 30,000: headroom for the JSON's escaping and Jira's own counting
PROPERTY_KEY = "allyproof"


@dataclass(frozen=True)
class IssueInput:
    rule_id: str
    impact: str
    help: str
    description: str
    help_url: str
    criteria: tuple[str, ...]
    levels: tuple[str, ...]
    site_name: str
    site_url: str
    pages: tuple[str, ...]
    page_count: int
    element_count: int
    samples: tuple[dict[str, Any], ...]
    violation_url: str
    dedupe_key: str


def _text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def _link(value: str, href: str) -> dict[str, Any]:
    if not is_web_url(href):  # a javascript: or data: URL from a scan file stays text in Jira too
        return _text(link_text(value, href))
    return _text(value, {"type": "link", "attrs": {"href": href}})


def _para(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": [c for c in content if c.get("text", "x")]}


def _heading(value: str, level: int = 3) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": level}, "content": [_text(value)]}


def _bullets(items: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"type": "bulletList", "content": [{"type": "listItem", "content": [_para(*i)]} for i in items]}


def _code(value: str) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "codeBlock", "attrs": {"language": "html"}}
    if value:
        node["content"] = [_text(value)]
    return node


def summary(item: IssueInput) -> str:
    text = f"[{impacts.label(item.impact)}] {item.help} — {item.site_name}"
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _document(item: IssueInput, *, page_cap: int, sample_cap: int, snippet_cap: int) -> dict[str, Any]:
    wcag = ", ".join([*item.levels, *(f"SC {c}" for c in item.criteria)]) or "Best practice (not a WCAG failure)"
    content: list[dict[str, Any]] = [
        _para(_text("Impact: ", {"type": "strong"}), _text(impacts.label(item.impact))),
        _para(_text("WCAG: ", {"type": "strong"}), _text(wcag)),
        _para(_text("Rule: ", {"type": "strong"}), _text(item.rule_id, {"type": "code"})),
        _heading("What the rule checks"),
        _para(_text(item.description or item.help)),
        _heading("How to fix"),
        _para(_text(item.help + ". "), *([_link("Guidance from Deque University", item.help_url)] if item.help_url else [])),
        _heading(f"Affected pages ({item.page_count})"),
    ]
    pages = list(item.pages[:page_cap])
    if pages:
        content.append(_bullets([[_link(url, url)] for url in pages]))
    if item.page_count > len(pages):
        content.append(_para(_text(f"and {item.page_count - len(pages)} more")))
    samples = item.samples[:sample_cap]
    if samples:
        content.append(_heading(f"Sample elements ({len(samples)} of {item.element_count})"))
    for sample in samples:
        content.append(_para(_text("Target: ", {"type": "strong"}), _text(target_text(sample.get("target")), {"type": "code"})))
        content.append(_code(str(sample.get("html", ""))[:snippet_cap]))
        summary_text = str(sample.get("failure_summary", "")).strip()
        if summary_text:
            content.append(_para(_text(summary_text[:snippet_cap])))
    content.append({"type": "rule"})
    content.append(_para(_text("Found by AllyProof. "), _link("Open this violation in AllyProof", item.violation_url)))
    return {"type": "doc", "version": 1, "content": content}


def description(item: IssueInput) -> dict[str, Any]:
    """The richest document that fits Jira's limit."""
    for page_cap, sample_cap, snippet_cap in ((50, 5, 1500), (25, 3, 600), (10, 2, 300), (5, 1, 200), (0, 0, 100)):
        doc = _document(item, page_cap=page_cap, sample_cap=sample_cap, snippet_cap=snippet_cap)
        if len(json.dumps(doc, ensure_ascii=False)) <= BUDGET:
            return doc
    raise ValueError("the issue description cannot be made small enough")  # unreachable with a 255-char help


def labels(label: str) -> list[str]:
    return ["allyproof", "accessibility", label]


def triage_fields(impact: str, triage: Any) -> dict[str, Any]:
    """Priority for this impact, components and extra labels from the site's triage settings."""
    if triage is None:
        return {}
    fields: dict[str, Any] = {}
    if triage.priorities.get(impact):
        fields["priority"] = {"name": triage.priorities[impact]}
    if triage.components:
        fields["components"] = [{"name": name} for name in triage.components]
    return fields


def issue_body(item: IssueInput, *, project_key: str, issue_type_id: str, label: str,
               triage: Any = None) -> dict[str, Any]:
    """`triage` (allyproof.integrations.jira.outbound.triage.Triage, optional): the site's priority per impact,
    extra labels and components, already checked against the project's createmeta at save."""
    extra = [x for x in (triage.labels if triage is not None else ()) if x not in labels(label)]
    return {
        "fields": {
            "project": {"key": project_key},
            "issuetype": {"id": issue_type_id},
            "summary": summary(item),
            "description": description(item),
            "labels": labels(label) + extra,
            **triage_fields(item.impact, triage),
        },
        "properties": [{"key": PROPERTY_KEY, "value": {"dedupeKey": item.dedupe_key, "rule": item.rule_id,
                                                        "site": item.site_url, "violation": item.violation_url}}],
    }


def detected_again(at) -> dict[str, Any]:
    """The comment added to a linked issue when a scan finds its resolved violation again."""
    return {"type": "doc", "version": 1, "content": [_para(_text(
        f"AllyProof detected this violation again in the scan of {at:%d %b %Y, %H:%M} UTC and reopened it. "
        "The Jira issue was left as it is."))]}


def fixed_by_scan(at) -> dict[str, Any]:
    """The comment added to a linked issue when a scan no longer finds its violation on any page."""
    return {"type": "doc", "version": 1, "content": [_para(_text(
        f"AllyProof no longer detects this violation: it was fixed — not detected in the scan of {at:%d %b %Y, %H:%M} UTC, "
        "which covered every page it had been found on. AllyProof marked it resolved."))]}


def duplicate_of(kept_key: str) -> dict[str, Any]:
    """The comment on an issue Jira ended up with twice: which one AllyProof keeps."""
    return {"type": "doc", "version": 1, "content": [_para(_text(
        f"Duplicate of {kept_key}: Jira created this issue twice for one AllyProof violation. "
        f"AllyProof tracks {kept_key} and closed this one."))]}
