"""Issue 13, case 3: only http(s) URLs become links, on our pages and in the ADF written to Jira."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from allyproof.core.links import is_web_url
from allyproof.integrations.jira.outbound import content
from tests import factories
from tests.atlassian import assert_valid_adf
from tests.jira.test_content import make

LINKS = ["https://ok.example/rule", "http://ok.example/page?a=1#b", "HTTPS://OK.EXAMPLE/UPPER"]
TEXT = [
    "javascript:alert(1)", "JavaScript:alert(document.domain)", "java\tscript:alert(1)", " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
    "//evil.example/protocol-relative", "/relative/path", "mailto:a@example.test", "https:no-host", "http://",
    "ftp://files.example/", "https://[broken/",
]
MATRIX = [(url, True) for url in LINKS] + [(url, False) for url in TEXT]


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))


def hrefs(html: str) -> list[str]:
    parser = _Anchors()
    parser.feed(html)
    return parser.hrefs


def adf_links(node) -> list[str]:
    found = [m["attrs"]["href"] for m in node.get("marks", []) if m["type"] == "link"] if isinstance(node, dict) else []
    for child in node.get("content", []) if isinstance(node, dict) else []:
        found += adf_links(child)
    return found


def adf_text(node) -> str:
    return node.get("text", "") + "".join(adf_text(c) for c in node.get("content", []))


@pytest.mark.parametrize(("url", "is_link"), MATRIX)
def test_the_rule_decides_like_the_matrix(url, is_link):
    assert is_web_url(url) is is_link


@pytest.mark.parametrize(("url", "is_link"), MATRIX)
def test_violation_page_links_only_web_urls(client, site, member_user, url, is_link):
    page = {"url": url, "violations": [{"id": "image-alt", "impact": "critical", "description": "d", "help": "Add alt",
                                        "helpUrl": url, "tags": ["wcag2a"], "nodes": [{"target": ["img"]}]}]}
    factories.ingest(site, page)
    violation = site.violations.get()
    client.force_login(member_user)
    html = client.get(reverse("violation_detail", args=[site.pk, violation.pk])).content.decode()
    found = hrefs(html)
    assert (url in found) is is_link
    assert not any(h and h.lower().lstrip().startswith(("javascript", "data:", "vbscript")) for h in found)
    if not is_link:
        from django.utils.html import escape
        assert escape(url) in html  # shown as text: the page list and beside the help text


@pytest.mark.parametrize(("url", "is_link"), MATRIX)
def test_jira_description_links_only_web_urls(url, is_link):
    doc = content.description(make(help_url=url, pages=(url,), page_count=1))
    assert_valid_adf(doc)
    links = adf_links(doc)
    assert (url in links) is is_link
    assert links.count(url) == (2 if is_link else 0)  # the guidance link and the page
    if not is_link:
        assert url in adf_text(doc)
