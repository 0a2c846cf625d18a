"""A violation as a Jira issue: summary, labels, property, and a description valid against the ADF schema."""

import json

from allyproof.integrations.jira.outbound import content
from tests.atlassian import assert_valid_adf


def make(**overrides) -> content.IssueInput:
    base = dict(
        rule_id="image-alt", impact="critical", help="Images must have alternative text",
        description="Ensures <img> elements have alternate text or a role of none or presentation",
        help_url="https://dequeuniversity.com/rules/axe/4.12/image-alt?application=axeAPI",
        criteria=("1.1.1",), levels=("WCAG 2.0 A",), site_name="ACME Dental", site_url="https://www.acme-dental.example/",
        pages=("https://www.acme-dental.example/", "https://www.acme-dental.example/pricing/"), page_count=2,
        element_count=3,
        samples=({"target": ["img.logo"], "html": '<img src="logo.svg">', "failure_summary": "Fix any of the following:\n  Element does not have an alt attribute"},
                 {"target": [["acme-chat", "button"]], "html": "", "failure_summary": ""},
                 {"target": ["#booking-frame", "img"], "html": "<img>", "failure_summary": "x"}),
        violation_url="https://allyproof.example/sites/1/violations/2/", dedupe_key="ab" * 32,
    )
    return content.IssueInput(**{**base, **overrides})


def text_of(doc) -> str:
    return json.dumps(doc)


def test_description_is_valid_adf_with_everything_a_fixer_needs():
    doc = content.description(make())
    assert_valid_adf(doc)
    text = text_of(doc)
    for needle in ("Critical", "WCAG 2.0 A", "SC 1.1.1", "image-alt", "Ensures <img>", "dequeuniversity.com",
                   "https://www.acme-dental.example/pricing/", '<img src=\\"logo.svg\\">', "acme-chat >> button",
                   "#booking-frame >>> img", "Open this violation in AllyProof", "https://allyproof.example/sites/1/violations/2/"):
        assert needle in text, needle


def test_thousands_of_pages_stay_under_the_limit_with_and_n_more():
    pages = tuple(f"https://www.acme-dental.example/blog/post-{i}-with-a-rather-long-slug/" for i in range(5000))
    big = "<div>" + "x" * 5000 + "</div>"
    samples = tuple({"target": ["div"] * 3, "html": big, "failure_summary": "y" * 3000} for _ in range(5))
    doc = content.description(make(pages=pages, page_count=5000, samples=samples, element_count=20000))
    assert_valid_adf(doc)
    assert len(json.dumps(doc, ensure_ascii=False)) <= content.DESCRIPTION_LIMIT
    listed = text_of(doc).count('"text": "https://www.acme-dental.example/blog/post-')
    assert 5 <= listed < 5000
    assert f"and {5000 - listed} more" in text_of(doc)


def test_summary_is_capped_at_255():
    assert content.summary(make()) == "[Critical] Images must have alternative text — ACME Dental"
    long = content.summary(make(help="x" * 400))
    assert len(long) == 255 and long.endswith("…")


def test_no_help_url_and_best_practice_rules():
    doc = content.description(make(help_url="", criteria=(), levels=(), samples=()))
    assert_valid_adf(doc)
    assert "Best practice (not a WCAG failure)" in text_of(doc)


def test_body_carries_label_and_dedupe_property():
    body = content.issue_body(make(), project_key="ACME", issue_type_id="10004", label="allyproof-abababababababab")
    assert body["fields"]["labels"] == ["allyproof", "accessibility", "allyproof-abababababababab"]
    assert all(" " not in label for label in body["fields"]["labels"])
    assert body["fields"]["project"] == {"key": "ACME"} and body["fields"]["issuetype"] == {"id": "10004"}
    assert body["properties"] == [{"key": "allyproof", "value": {
        "dedupeKey": "ab" * 32, "rule": "image-alt", "site": "https://www.acme-dental.example/",
        "violation": "https://allyproof.example/sites/1/violations/2/"}}]
