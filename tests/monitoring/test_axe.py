"""The pure axe-core reader: shapes it accepts, aggregation, and what each bad input gets."""

import io
import json

import pytest

from allyproof.monitoring import axe, targets
from tests.factories import axe_fixture


def read(data: bytes) -> axe.ScanAggregate:
    return axe.aggregate(io.BytesIO(data))


def test_single_page_result_is_one_page():
    page = json.loads(axe_fixture("single_page__home.json"))
    result = read(axe_fixture("single_page__home.json"))
    assert result.pages_scanned == 1
    assert set(result.rules) == {v["id"] for v in page["violations"]}
    assert result.axe_version == page["testEngine"]["version"]


def test_multi_page_aggregates_each_rule_across_pages():
    pages = json.loads(axe_fixture("multi_page__site.json"))
    result = read(axe_fixture("multi_page__site.json"))
    assert result.pages_scanned == len(pages)
    for rule_id, rule in result.rules.items():
        failing = [p for p in pages if any(v["id"] == rule_id for v in p["violations"])]
        assert rule.pages == [p["url"] for p in failing]
        nodes = sum(len(v["nodes"]) for p in failing for v in p["violations"] if v["id"] == rule_id)
        assert rule.element_count == nodes
        assert 1 <= len(rule.samples) <= min(axe.SAMPLE_LIMIT, nodes)
    assert len(result.rules["image-alt"].pages) == len(pages)  # fails everywhere in the fixture site


def test_cli_file_reads_the_same_as_the_plain_results_of_its_pages():
    cli_pages = json.loads(axe_fixture("axe_cli__site.json"))
    urls = [page["url"] for page in cli_pages]
    plain_pages = [p for p in json.loads(axe_fixture("multi_page__site.json")) if p["url"] in urls]
    cli = read(axe_fixture("axe_cli__site.json"))
    plain = read(json.dumps(plain_pages).encode())
    assert cli.pages_scanned == len(urls) == 3
    assert {k: (r.impact, r.pages, r.element_count) for k, r in cli.rules.items()} == {
        k: (r.impact, r.pages, r.element_count) for k, r in plain.rules.items()
    }


def test_nested_targets_from_iframes_and_shadow_dom_are_kept():
    result = read(axe_fixture("multi_page__site.json"))
    targets = [s["target"] for r in result.rules.values() for s in r.samples]
    assert any(len(t) > 1 or any(isinstance(part, list) for part in t) for t in targets)


def test_samples_carry_html_and_failure_summary():
    sample = read(axe_fixture("single_page__home.json")).rules["image-alt"].samples[0]
    assert sample["html"].startswith("<img")
    assert "alt" in sample["failure_summary"]


@pytest.mark.parametrize("chunk_size", [997, 4096, 65536])
def test_chunk_boundaries_do_not_change_the_result(chunk_size):
    whole = read(axe_fixture("multi_page__site.json"))
    chunked = axe.aggregate(io.BytesIO(axe_fixture("multi_page__site.json")), chunk_size=chunk_size)
    assert chunked == whole
    assert chunked.pages_scanned == 6


def test_a_byte_order_mark_is_accepted():
    result = read(b"\xef\xbb\xbf" + axe_fixture("single_page__home.json"))
    assert result.pages_scanned == 1


def test_highest_impact_across_pages_wins():
    pages = [
        {"url": "https://a.example/1", "violations": [_violation("color-contrast", "moderate")]},
        {"url": "https://a.example/2", "violations": [_violation("color-contrast", "serious")]},
    ]
    assert read(json.dumps(pages).encode()).rules["color-contrast"].impact == "serious"


def test_the_same_page_twice_counts_once():
    page = {"url": "https://a.example/", "violations": [_violation("image-alt", "critical")]}
    result = read(json.dumps([page, page]).encode())
    assert result.pages_scanned == 1
    assert result.rules["image-alt"].pages == ["https://a.example/"]


def _violation(rule_id, impact, **extra):
    return {
        "id": rule_id, "impact": impact, "description": "d", "help": "h", "helpUrl": "https://dequeuniversity.com/x",
        "tags": ["wcag2a"], "nodes": [{"target": ["img"], "html": "<img>", "failureSummary": "f"}], **extra,
    }


# Each bad input gets an AxeResultsError naming where the problem is.
BAD_INPUTS = [
    (b"", "", "the file is empty"),
    (b"   \n ", "", "the file is empty"),
    (b"not json at all", "", "not axe-core results"),
    (b'{"url": "https://a.example/", "violations": [', "", "not valid JSON"),
    (b"[]", "", "holds no page results"),
    (b"42", "", "not axe-core results"),
    (b"[42]", "pages[0]", "must be a JSON object"),
    (b'{"violations": []}', "results", "missing the page 'url'"),
    (b'[{"url": "https://a.example/"}]', "pages[0]", "missing the 'violations' list"),
    (json.dumps({"url": "https://a.example/", "violations": [{"impact": "critical"}]}).encode(),
     "violations[0]", "missing rule 'id'"),
    (json.dumps([{"url": "https://a.example/", "violations": []},
                 {"url": "https://a.example/b", "violations": [_violation("image-alt", "severe")]}]).encode(),
     "pages[1].violations[0].impact", "unknown impact 'severe'"),
    (json.dumps({"url": "https://a.example/", "violations": [_violation("image-alt", None)]}).encode(),
     "violations[0].impact", "unknown impact None"),
    (json.dumps({"url": "https://a.example/", "violations": [_violation("x", "minor", nodes="oops")]}).encode(),
     "violations[0]", "'nodes' must be a list"),
    (json.dumps({"url": "https://a.example/", "violations": [_violation("x", "minor", tags="wcag2a")]}).encode(),
     "violations[0].tags", "'tags' must be a list of strings"),
    (json.dumps({"url": "https://a.example/", "violations": [_violation("x", "minor", nodes=[1])]}).encode(),
     "violations[0]", "'nodes' must be a list of objects"),
    (json.dumps({"url": "https://a.example/", "violations": ["image-alt"]}).encode(),
     "violations[0]", "each violation must be an object"),
    (json.dumps({"url": "https://a.example/", "violations": "none"}).encode(),
     "violations", "missing the 'violations' list"),
    (b'[{"url": "https://a.example/", "violations": []} {"url": "https://a.example/b", "violations": []}]',
     "", "expected ',' or ']' after page 0"),
    (b'[{"url": "https://a.example/", "violations": []}',
     "", "the list is cut short"),
    (b'[{"url": "https://a.example/", "violations": []}] trailing',
     "", "more data after the list"),
    (b'{"url": "https://a.example/", "violations": []} {}',
     "", "more data after the result object"),
]


@pytest.mark.parametrize(("data", "path", "message"), BAD_INPUTS)
def test_bad_input_names_what_is_wrong(data, path, message):
    with pytest.raises(axe.AxeResultsError) as caught:
        read(data)
    assert caught.value.path == path
    assert message in caught.value.message


@pytest.mark.parametrize(("target", "text"), [
    (["#main"], "#main"), (["#widget", "img"], "#widget >>> img"), ([["fancy-button", ".icon"]], "fancy-button >> .icon"),
    (["#frame", ["x-host", "span"]], "#frame >>> x-host >> span"), ([], "(no selector)"), (None, "(no selector)"),
    ("p.low", "p.low")])
def test_a_target_reads_as_one_line(target, text):
    assert targets.target_text(target) == text


def test_an_element_failing_on_every_page_is_one_sample_and_leaves_room_for_others():
    def page(url, *nodes):
        return {"url": url, "violations": [{"id": "button-name", "impact": "critical", "tags": ["wcag2a"],
                                            "description": "d", "help": "h", "helpUrl": "",
                                            "nodes": [{"target": t, "html": h, "failureSummary": "f"} for t, h in nodes]}]}
    launcher = ([["acme-chat", ".launcher"]], '<button class="launcher">')
    pages = [page(f"https://a.example/{i}/", launcher) for i in range(4)]
    pages.append(page("https://a.example/contact/", launcher, (["#send"], "<button id=send>")))
    rule = read(json.dumps(pages).encode()).rules["button-name"]
    assert [s["target"] for s in rule.samples] == [[["acme-chat", ".launcher"]], ["#send"]]
    assert rule.element_count == 6 and len(rule.pages) == 5
