"""Writes a large, realistic axe-core multi-page results file for the ingestion benchmark.

    .venv/bin/python bench/_axe_generator.py --pages 5000 --out /tmp/axe-5000.json [--seed 1]

The output is what AllyProof accepts from CI: a JSON list with one `axe.run()` result object per
page (compact, like `JSON.stringify(results)`), with the same keys in the same order as the real
output in `tests/fixtures/axe/` (testEngine, testRunner, testEnvironment, timestamp, url,
toolOptions, inapplicable, passes, incomplete, violations). Violations come last, as in real
axe-core output, so a reader has to get past `inapplicable` and `passes` to reach them.

Where the data comes from:
  * rule metadata (id, tags, description, help, helpUrl) and node shapes (any/all/none checks,
    html, failureSummary) are read from the real captured fixtures at run time;
  * the failing pool is 61 rules: the 26 that fail or need review in the fixtures (their real
    nodes are the templates), 30 more whose metadata the fixtures carry as passes/inapplicable
    (given axe-core's impact and hand-written check messages, `_KNOWN_RULES`), and 5 common rules
    the small fixture site never triggered (metadata written here, `_EXTRA_RULES`);
  * each page fails 20-40 of them, each with 1-8 nodes; a node's target is a plain selector list
    (~70%), an iframe path `["iframe#x", "button.y"]` (~15%) or a shadow-DOM path
    `[["my-widget", "button"]]` (~15%, sometimes inside an iframe);
  * `passes` holds ~30 rules with 1-8 real pass nodes each, `inapplicable` ~40 rules with no nodes,
    `incomplete` 0-2 needs-review results.

Seeded and deterministic: the same --pages/--seed give the same bytes. The file is written page
by page; the whole list is never held in memory.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "axe"
# The `axe.run()` captures; axe_cli__site.json repeats their pages with another helpUrl branding.
FIXTURE_FILES = ("multi_page__site.json", "multi_page__rescan.json", "single_page__home.json")
SITE = "https://www.northwind-outdoor.example"
AXE_DOCS = "https://dequeuniversity.com/rules/axe/4.12/{}?application=axeAPI"

# Rules the fixtures know only as passing or inapplicable: axe-core's impact, the check list that
# fails (any/all/none), (check id, message) pairs, and an HTML snippet + selector to report.
_KNOWN_RULES: dict[str, tuple[str, str, list[tuple[str, str]], str, str]] = {
    "accesskeys": ("serious", "none", [("accesskeys", "Accesskey attribute value is not unique")],
                   '<a href="/cart/" accesskey="c">Cart ({n})</a>', 'a[accesskey="c"]'),
    "area-alt": ("critical", "any", [
        ("non-empty-alt", "Element does not have an alt attribute"),
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("non-empty-title", "Element has no title attribute"),
    ], '<area shape="rect" coords="0,0,120,80" href="/stores/region-{n}/">', 'area[href$="region-{n}/"]'),
    "aria-allowed-attr": ("critical", "all", [("aria-allowed-attr", 'ARIA attribute is not allowed: aria-checked="true"')],
                          '<div class="filter-tile" aria-checked="true">Waterproof ({n})</div>', ".filter-tile"),
    "aria-command-name": ("serious", "any", [
        ("has-visible-text", "Element does not have text that is visible to screen readers"),
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("non-empty-title", "Element has no title attribute"),
    ], '<div role="button" class="wishlist-toggle" data-sku="NW-{n}"><svg aria-hidden="true"></svg></div>', ".wishlist-toggle"),
    "aria-conditional-attr": ("serious", "all", [("aria-conditional-attr", "Invalid ARIA attribute on element: aria-expanded")],
                              '<li role="treeitem" aria-expanded="false">Tents</li>', 'li[role="treeitem"]'),
    "aria-deprecated-role": ("minor", "all", [("deprecatedrole", "Role deprecated: directory")],
                             '<ul role="directory" class="store-list">', 'ul[role="directory"]'),
    "aria-dialog-name": ("serious", "any", [
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("non-empty-title", "Element has no title attribute"),
    ], '<div role="dialog" class="size-guide" id="size-guide-{n}">', ".size-guide"),
    "aria-hidden-body": ("critical", "any", [("aria-hidden-body", "aria-hidden=true should not be present on the document body")],
                         '<body aria-hidden="true" class="modal-open">', "body"),
    "aria-input-field-name": ("serious", "any", [
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("non-empty-title", "Element has no title attribute"),
    ], '<div role="combobox" class="store-search" contenteditable="true"></div>', ".store-search"),
    "aria-progressbar-name": ("serious", "any", [
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("non-empty-title", "Element has no title attribute"),
    ], '<div role="progressbar" aria-valuenow="{n}" class="free-shipping-meter"></div>', ".free-shipping-meter"),
    "aria-prohibited-attr": ("serious", "none", [("aria-prohibited-attr", "aria-label attribute cannot be used on a span with no valid role attribute.")],
                             '<span aria-label="Rated 4.5 out of 5" class="stars">★★★★½</span>', "span.stars"),
    "aria-required-children": ("critical", "any", [("aria-required-children", "Required ARIA child role not present: option")],
                               '<ul role="listbox" class="colour-picker"><li class="swatch">Moss</li></ul>', 'ul[role="listbox"]'),
    "aria-required-parent": ("critical", "any", [("aria-required-parent", "Required ARIA parent role not present: tablist")],
                             '<button role="tab" aria-selected="true" id="tab-specs-{n}">Specs</button>', 'button[role="tab"]'),
    "aria-roles": ("critical", "all", [("invalidrole", "Role must be one of the valid ARIA roles: 'link-button'")],
                   '<a role="link-button" href="/sale/">Sale</a>', 'a[role="link-button"]'),
    "aria-toggle-field-name": ("serious", "any", [
        ("has-visible-text", "Element does not have text that is visible to screen readers"),
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("non-empty-title", "Element has no title attribute"),
    ], '<span role="switch" aria-checked="false" class="unit-toggle"></span>', ".unit-toggle"),
    "aria-tooltip-name": ("serious", "any", [
        ("has-visible-text", "Element does not have text that is visible to screen readers"),
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
    ], '<div role="tooltip" id="tip-{n}" class="tooltip"></div>', ".tooltip"),
    "aria-valid-attr": ("critical", "all", [("aria-valid-attr", "Invalid ARIA attribute name: aria-lable")],
                        '<input type="search" name="q" aria-lable="Search products">', 'input[name="q"]'),
    "aria-valid-attr-value": ("critical", "all", [
        ("aria-valid-attr-value", 'Invalid ARIA attribute value: aria-expanded="yes"'),
        ("aria-errormessage", "aria-errormessage value `` must use a technique to announce the message"),
    ], '<button class="menu-toggle" aria-expanded="yes" aria-controls="mega-menu-{n}">Shop</button>', ".menu-toggle"),
    "bypass": ("serious", "any", [
        ("internal-link-present", "No valid skip link found"),
        ("header-present", "Page does not have a heading"),
        ("landmark", "Page does not have a landmark region"),
    ], '<html lang="en" class="js">', "html"),
    "definition-list": ("serious", "all", [("only-dlitems", "List element has direct children that are not allowed: div")],
                        '<dl class="spec-table"><div class="row"><dt>Weight</dt><dd>1.2 kg</dd></div></dl>', "dl"),
    "document-title": ("serious", "any", [("doc-has-title", "Document does not have a non-empty <title> element")],
                       '<html lang="en">', "html"),
    "frame-title": ("serious", "any", [
        ("frame-title", "Element has no title attribute"),
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
        ("presentational-role", "Element's default semantics were not overridden with role=\"none\" or role=\"presentation\""),
    ], '<iframe src="https://maps.example/embed?store={n}" width="600" height="320"></iframe>', 'iframe[src*="maps.example"]'),
    "html-lang-valid": ("serious", "all", [("valid-lang", "Value of lang attribute not included in the list of valid languages")],
                        '<html lang="english">', "html"),
    "input-button-name": ("critical", "any", [
        ("non-empty-if-present", "Element has a value attribute and the value attribute is empty"),
        ("non-empty-value", "Element has no value attribute or the value attribute is empty"),
        ("aria-label", "aria-label attribute does not exist or is empty"),
        ("aria-labelledby", "aria-labelledby attribute does not exist, references elements that do not exist or references elements that are empty"),
    ], '<input type="submit" value="" class="newsletter-go">', ".newsletter-go"),
    "label-title-only": ("serious", "none", [("title-only", "Only title used to generate label for form element")],
                         '<input type="number" name="qty-{n}" title="Quantity" value="1">', 'input[name^="qty"]'),
    "landmark-no-duplicate-main": ("moderate", "any", [("page-no-duplicate-main", "Document has more than one main landmark")],
                                   '<main class="product-detail">', "main.product-detail"),
    "link-in-text-block": ("serious", "any", [("link-in-text-block", "The link has insufficient color contrast of 1.21:1 with the surrounding text. (Minimum contrast is 3:1, link text: rgb(64, 64, 64), surrounding text: rgb(51, 51, 51))")],
                           '<a href="/guides/layering-{n}/">layering guide</a>', ".article-body a"),
    "list": ("serious", "all", [("only-listitems", "List element has direct children that are not allowed: div")],
             '<ul class="breadcrumbs"><div class="crumb"><a href="/">Home</a></div></ul>', "ul.breadcrumbs"),
    "nested-interactive": ("serious", "any", [("no-focusable-content", "Element has focusable descendants")],
                           '<button class="product-card" data-sku="NW-{n}"><a href="/p/NW-{n}/">View</a></button>', ".product-card"),
    "scrollable-region-focusable": ("serious", "any", [
        ("focusable-content", "Element should have focusable content"),
        ("focusable-element", "Element should be focusable"),
    ], '<div class="size-chart" style="overflow-x: auto">', ".size-chart"),
}

# Common axe-core 4.12 rules the small fixture site never triggered: metadata written here.
_EXTRA_RULES: dict[str, dict[str, Any]] = {
    "target-size": {
        "impact": "serious", "tags": ["cat.sensory-and-visual-cues", "wcag22aa", "wcag258"],
        "description": "Ensure touch targets have sufficient size and space",
        "help": "All touch targets must be 24px large, or leave sufficient space",
        "checks": ("any", [("target-size", "Target has insufficient size (18px by 18px, should be at least 24px by 24px)"),
                           ("target-offset", "Target has insufficient space to its closest neighbors. Safe clickable space has a diameter of 18px instead of at least 24px.")]),
        "html": '<a href="/p/NW-{n}/?colour=moss" class="swatch-link"></a>', "selector": ".swatch-link",
    },
    "label-content-name-mismatch": {
        "impact": "serious", "tags": ["cat.semantics", "wcag21a", "wcag253", "EN-301-549", "EN-9.2.5.3", "experimental"],
        "description": "Ensure that elements labelled through their content must have their visible text as part of their accessible name",
        "help": "Elements must have their visible text as part of their accessible name",
        "checks": ("any", [("label-content-name-mismatch", "Element contains visible text as part of its accessible name")]),
        "html": '<button aria-label="Add to basket" class="add-to-cart">Buy now</button>', "selector": ".add-to-cart",
    },
    "p-as-heading": {
        "impact": "serious", "tags": ["cat.semantics", "wcag2a", "wcag131", "EN-301-549", "EN-9.1.3.1", "experimental"],
        "description": "Ensure bold, italic text and font-size is not used to style <p> elements as a heading",
        "help": "Styled <p> elements must not be used as headings",
        "checks": ("all", [("is-on-screen", "Element is visible"), ("p-as-heading", "<p> elements are used as a heading")]),
        "html": '<p class="section-title"><strong>Why choose Northwind?</strong></p>', "selector": "p.section-title",
    },
    "css-orientation-lock": {
        "impact": "serious", "tags": ["cat.structure", "wcag134", "wcag21aa", "EN-301-549", "EN-9.1.3.4", "RGAAv4", "RGAA-13.9.1", "experimental"],
        "description": "Ensure content is not locked to any specific display orientation, and the content is operable in all display orientations",
        "help": "CSS Media queries must not lock display orientation",
        "checks": ("all", [("css-orientation-lock", "Element has a CSS transform that locks the display orientation")]),
        "html": '<div class="store-locator-map">', "selector": ".store-locator-map",
    },
    "td-has-header": {
        "impact": "critical", "tags": ["cat.tables", "experimental", "wcag2a", "wcag131", "section508", "section508.22.g", "TTv5", "TT14.b", "EN-301-549", "EN-9.1.3.1"],
        "description": "Ensure that each non-empty data cell in a <table> larger than 3 by 3  has one or more table headers",
        "help": "Non-empty <td> elements in larger <table> must have an associated table header",
        "checks": ("all", [("td-has-header", "Some non-empty data cells do not have table headers")]),
        "html": '<td>{n} g</td>', "selector": "table.nutrition td:nth-child(2)",
    },
}
for _rule in _EXTRA_RULES.values():
    _rule["tags"] = list(_rule["tags"])

_FRAMES = ["#checkout-frame", "iframe#reviews-widget", 'iframe[title="Store map"]', "#newsletter-frame",
           "iframe.size-guide-frame"]
_HOSTS = ["nw-chat-launcher", "nw-product-gallery", "nw-cookie-banner", "nw-mini-cart", "nw-store-picker"]
_SECTIONS = ["products/tents", "products/sleeping-bags", "products/backpacks", "products/jackets",
             "products/footwear", "guides", "blog/2025", "stores", "help", "brands"]
_WORDS = ["alpine", "ridge", "trail", "summit", "canyon", "fjord", "cedar", "aurora", "basalt", "delta",
          "ember", "glacier", "harbor", "juniper", "kestrel", "lumen", "meadow", "nimbus", "orca", "pioneer"]


def _checks(impact: str, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"id": cid, "data": None, "relatedNodes": [], "impact": impact, "message": msg} for cid, msg in pairs]


def _summary(node: dict[str, Any]) -> str:
    parts = []
    if node["any"]:
        parts.append("Fix any of the following:\n" + "\n".join("  " + c["message"] for c in node["any"]))
    failing_all = node["all"] + node["none"]
    if failing_all:
        parts.append("Fix all of the following:\n" + "\n".join("  " + c["message"] for c in failing_all))
    return "\n\n".join(parts)


def _synth_template(impact: str, kind: str, pairs, html: str, selector: str) -> dict[str, Any]:
    node = {"any": [], "all": [], "none": [], "impact": impact, "html": html, "target": [selector]}
    node[kind] = _checks(impact, pairs)
    node["failureSummary"] = _summary(node)
    return node


def load_pool(fixtures: Path = FIXTURES) -> dict[str, Any]:
    """Reads the real fixtures into the rule pool the pages are drawn from."""
    meta: dict[str, dict[str, Any]] = {}
    fail_nodes: dict[str, list[dict[str, Any]]] = {}
    fail_impact: dict[str, str] = {}
    pass_nodes: dict[str, list[dict[str, Any]]] = {}
    incomplete: dict[str, dict[str, Any]] = {}
    header: dict[str, Any] = {}
    for name in FIXTURE_FILES:
        data = json.loads((fixtures / name).read_text(encoding="utf-8"))
        for page in data if isinstance(data, list) else [data]:
            if not header:
                header = {k: page[k] for k in ("testEngine", "testRunner", "testEnvironment", "toolOptions")}
            for kind in ("violations", "incomplete", "passes", "inapplicable"):
                for result in page[kind]:
                    rid = result["id"]
                    meta.setdefault(rid, {k: result[k] for k in ("id", "tags", "description", "help", "helpUrl")})
                    if kind in ("violations", "incomplete"):
                        fail_impact[rid] = result["impact"]
                        fail_nodes.setdefault(rid, []).extend(result["nodes"])
                    if kind == "incomplete":
                        incomplete.setdefault(rid, result)
                    if kind == "passes":
                        pass_nodes.setdefault(rid, []).extend(result["nodes"])
    failing: dict[str, dict[str, Any]] = {}
    for rid, impact in sorted(fail_impact.items()):
        failing[rid] = {"meta": meta[rid], "impact": impact, "templates": fail_nodes[rid], "synthetic": False}
    for rid, (impact, kind, pairs, html, selector) in _KNOWN_RULES.items():
        if rid not in meta:
            raise SystemExit(f"fixture metadata for {rid!r} is missing from {fixtures}")
        failing[rid] = {"meta": meta[rid], "impact": impact, "synthetic": True,
                        "templates": [_synth_template(impact, kind, pairs, html, selector)]}
    for rid, spec in _EXTRA_RULES.items():
        m = {"id": rid, "tags": spec["tags"], "description": spec["description"], "help": spec["help"],
             "helpUrl": AXE_DOCS.format(rid)}
        meta[rid] = m
        kind, pairs = spec["checks"]
        failing[rid] = {"meta": m, "impact": spec["impact"], "synthetic": True,
                        "templates": [_synth_template(spec["impact"], kind, pairs, spec["html"], spec["selector"])]}
    return {"header": header, "meta": meta, "failing": failing, "passes": pass_nodes, "incomplete": incomplete}


def _target(rng: random.Random, selector: list[Any] | str, k: int) -> list[Any]:
    """A plain selector list (~70%), an iframe path (~15%) or a shadow-DOM path (~15%)."""
    base = selector if isinstance(selector, str) else selector[-1]
    if not isinstance(base, str):  # already a shadow path in the template: keep its inner selector
        base = base[-1]
    if k > 1:  # the k-th element of the same kind on the page
        base, found = re.subn(r":nth-child\(\d+\)$", f":nth-child({k})", base)
        if not found:
            base = f"{base}:nth-child({k})"
    roll = rng.random()
    if roll < 0.70:
        return [base]
    if roll < 0.85:
        path: list[Any] = [rng.choice(_FRAMES)]
        if rng.random() < 0.2:
            path.append('iframe[title="3-D Secure"]')  # a frame inside a frame
        return path + [base]
    shadow: list[str] = [rng.choice(_HOSTS)]
    if rng.random() < 0.25:
        shadow.append("nw-icon-button")  # a shadow root inside a shadow root
    shadow.append(base)
    return [rng.choice(_FRAMES), shadow] if rng.random() < 0.2 else [shadow]


def _fail_node(rng: random.Random, rule: dict[str, Any], page_no: int, k: int) -> dict[str, Any]:
    template = rng.choice(rule["templates"])
    html = template["html"]
    if rule["synthetic"]:
        html = html.replace("{n}", str(page_no * 10 + k))
    elif k > 1:
        html = html.replace(">", f' data-nw-ref="{page_no}-{k}">', 1)
    return {"any": template["any"], "all": template["all"], "none": template["none"], "impact": rule["impact"],
            "html": html, "target": _target(rng, template["target"], k), "failureSummary": template["failureSummary"]}


def _url(rng: random.Random, page_no: int) -> str:
    if page_no == 0:
        return SITE + "/"
    section = _SECTIONS[page_no % len(_SECTIONS)]
    slug = "-".join(rng.sample(_WORDS, 2))
    return f"{SITE}/{section}/{slug}-{page_no}/"


def page_result(rng: random.Random, pool: dict[str, Any], page_no: int, started: float) -> dict[str, Any]:
    failing_ids = sorted(pool["failing"])
    failing = rng.sample(failing_ids, rng.randint(20, 40))
    pass_ids = rng.sample(sorted(pool["passes"]), rng.randint(26, 34))
    incomplete_ids = [rid for rid in sorted(pool["incomplete"]) if rid not in failing and rng.random() < 0.3]
    used = set(failing) | set(pass_ids) | set(incomplete_ids)
    spare = [rid for rid in sorted(pool["meta"]) if rid not in used]
    inapplicable_ids = rng.sample(spare, min(len(spare), rng.randint(36, 44)))

    def result(rid: str, impact: Any, nodes: list[dict[str, Any]]) -> dict[str, Any]:
        m = pool["meta"][rid]
        return {"id": rid, "impact": impact, "tags": m["tags"], "description": m["description"],
                "help": m["help"], "helpUrl": m["helpUrl"], "nodes": nodes}

    violations = []
    for rid in failing:
        rule = pool["failing"][rid]
        nodes = [_fail_node(rng, rule, page_no, k) for k in range(1, rng.randint(1, 8) + 1)]
        violations.append(result(rid, rule["impact"], nodes))
    passes = []
    for rid in pass_ids:
        templates = pool["passes"][rid]
        passes.append(result(rid, None, [rng.choice(templates) for _ in range(rng.randint(1, 8))]))
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started + page_no * 2.5))
    return {
        **{k: pool["header"][k] for k in ("testEngine", "testRunner", "testEnvironment")},
        "timestamp": f"{timestamp}.{page_no % 1000:03d}Z",
        "url": _url(rng, page_no),
        "toolOptions": pool["header"]["toolOptions"],
        "inapplicable": [result(rid, None, []) for rid in inapplicable_ids],
        "passes": passes,
        "incomplete": [pool["incomplete"][rid] for rid in incomplete_ids],
        "violations": violations,
    }


def write(path: Path, pages: int, seed: int = 1) -> dict[str, Any]:
    """Streams `pages` page results to `path`; returns size and counts."""
    pool = load_pool()
    rng = random.Random(seed)
    started = 1_795_000_000.0  # a fixed instant, so the bytes do not depend on the clock
    failing_rules = nodes = 0
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as out:
        out.write("[")
        for page_no in range(pages):
            page = page_result(rng, pool, page_no, started)
            failing_rules += len(page["violations"])
            nodes += sum(len(v["nodes"]) for v in page["violations"])
            if page_no:
                out.write(",")
            out.write(encoder.encode(page))
        out.write("]")
    return {"path": str(path), "pages": pages, "bytes": path.stat().st_size, "pool_failing": len(pool["failing"]),
            "failing_rules": failing_rules, "failing_nodes": nodes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    info = write(args.out, args.pages, args.seed)
    info["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(info))
    else:
        print(f"wrote {info['pages']} pages to {info['path']}: {info['bytes'] / 1e6:.1f} MB "
              f"({info['bytes'] / info['pages'] / 1e3:.0f} KB a page), {info['failing_rules']} failing rules "
              f"({info['failing_rules'] / info['pages']:.1f} a page, pool of {info['pool_failing']}), "
              f"{info['failing_nodes']} failing nodes, in {info['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
