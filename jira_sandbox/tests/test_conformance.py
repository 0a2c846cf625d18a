"""Requests and responses checked against Atlassian's OpenAPI document and ADF schema."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from jira_sandbox import specs
from jira_sandbox.schema_compiler import SchemaCompiler

from .conftest import adf_doc, requires_specs

RICH = {"type": "doc", "version": 1, "content": [
    {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Images must have alt text"}]},
    {"type": "paragraph", "content": [{"type": "text", "text": "Impact: ", "marks": [{"type": "strong"}]},
                                      {"type": "text", "text": "critical"}]},
    {"type": "bulletList", "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "https://acme.test/", "marks": [{"type": "link", "attrs": {"href": "https://acme.test/"}}]}]}]}]},
    {"type": "codeBlock", "attrs": {"language": "html"}, "content": [{"type": "text", "text": "<img src=a.png>"}]},
]}


@requires_specs
def test_a_realistic_run_has_no_conformance_failures(h, sb, tokens):
    assert sb.conformance.enabled and sb.adf.enabled
    other = sb.cfg.sites[1].cloud_id
    h.client.get("/oauth/token/accessible-resources", headers=tokens.headers)
    h.api("GET", "project/ACME", tokens)
    h.api("GET", "project/OPS", tokens, cloud_id=other)
    h.api("GET", "issue/createmeta/ACME/issuetypes", tokens)
    h.api("GET", "issue/createmeta/ACME/issuetypes/10004", tokens)
    sb.set_required_field(None, "ACME", "Bug", "customfield_10050", "Customer")
    h.api("GET", "issue/createmeta/ACME/issuetypes/10004", tokens)
    h.create(tokens)  # 400: required field
    h.create(tokens, summary="x" * 300)
    body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"id": "10004"}, "summary": "Alt text",
                       "description": RICH, "labels": ["allyproof-f1"], "customfield_10050": "Acme"},
            "properties": [{"key": "allyproof.dedupe", "value": {"key": "k1"}}]}
    key = h.api("POST", "issue", tokens, json=body).json()["key"]
    h.api("GET", f"issue/{key}", tokens)
    h.api("GET", f"issue/{key}", tokens, params={"fields": "summary,status,labels"})
    h.api("GET", "issue/ACME-404", tokens)
    h.api("PUT", f"issue/{key}/properties/allyproof.push", tokens, json={"at": 1})
    h.api("GET", f"issue/{key}/properties/allyproof.push", tokens)
    h.api("POST", f"issue/{key}/comment", tokens, json={"body": adf_doc("Reopened by AllyProof")})
    h.api("GET", f"issue/{key}/comment", tokens)
    transitions = h.api("GET", f"issue/{key}/transitions", tokens).json()["transitions"]
    h.api("POST", f"issue/{key}/transitions", tokens, json={"transition": {"id": transitions[-1]["id"]}})
    h.api("GET", "search/jql", tokens, params={"jql": f"key IN ({key}) AND statusCategory = Done",
                                               "fields": "status", "maxResults": 50})
    h.api("POST", "search/jql", tokens, json={"jql": "project = ACME AND labels = allyproof-f1",
                                              "fields": ["summary", "labels"], "maxResults": 1})
    h.api("GET", "search/jql", tokens, params={"jql": "order by key"})
    h.api("POST", "webhook", tokens, json={"url": "https://allyproof.test/wh", "webhooks": [
        {"events": ["jira:issue_updated", "jira:issue_deleted"], "jqlFilter": "project IN (ACME, WEB)"},
        {"events": ["jira:issue_updated"], "jqlFilter": "labels = x"}]})
    h.api("GET", "webhook", tokens)
    h.api("PUT", "webhook/refresh", tokens, json={"webhookIds": [1000]})
    h.api("DELETE", "webhook", tokens, json={"webhookIds": [1000]})
    h.api("DELETE", f"issue/{key}", tokens)
    assert [str(f) for f in sb.conformance.failures] == []
    # and the response check is live: a drifted body would have been caught
    op = sb.conformance.find("GET", "/rest/api/3/webhook")
    assert sb.conformance.response_errors(op, 200, {"values": [{"id": "1000"}]})
    assert all(r.status is not None for r in sb.requests)


@requires_specs
def test_a_request_that_does_not_conform_is_refused_and_recorded(h, sb, tokens):
    resp = h.api("POST", "webhook", tokens, json={"url": "https://a.test/wh", "webhooks": [
        {"events": ["jira:issue_exploded"], "jqlFilter": "project = ACME"}]})
    assert resp.status_code == 400
    assert "does not conform" in resp.json()["errorMessages"][0]
    [failure] = sb.conformance.failures
    assert failure.kind == "request" and failure.operation == "registerDynamicWebhooks"
    bad_param = h.api("GET", "search/jql", tokens, params={"jql": "project = ACME", "maxResults": "many"})
    assert bad_param.status_code == 400 and "maxResults" in bad_param.json()["errorMessages"][0]


@requires_specs
def test_adf_that_jira_accepts_but_the_schema_does_not_is_refused(h, sb, tokens):
    no_level = {"type": "doc", "version": 1, "content": [{"type": "heading", "content": [
        {"type": "text", "text": "h"}]}]}
    resp = h.create(tokens, description=no_level)
    assert resp.status_code == 400
    assert "does not conform to the ADF schema" in resp.json()["errorMessages"][0]
    assert sb.conformance.failures[-1].kind == "adf"
    marks_in_code = {"type": "doc", "version": 1, "content": [{"type": "codeBlock", "content": [
        {"type": "text", "text": "x", "marks": [{"type": "strong"}]}]}]}
    key = h.create(tokens).json()["key"]
    assert h.api("POST", f"issue/{key}/comment", tokens, json={"body": marks_in_code}).status_code == 400


# The compiled ADF checker must agree with jsonschema on every document.
_text = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=3)},
                              optional={"marks": st.lists(st.sampled_from(
                                  [{"type": "strong"}, {"type": "code"}, {"type": "em"}, {"type": "bogus"},
                                   {"type": "link", "attrs": {"href": "https://x"}}, {"type": "link"}]), max_size=2)})
_inline = st.one_of(_text, st.just({"type": "hardBreak"}), st.just({"type": "nope"}))
_para = st.fixed_dictionaries({"type": st.just("paragraph")}, optional={"content": st.lists(_inline, max_size=3)})
_block = st.one_of(
    _para,
    st.fixed_dictionaries({"type": st.just("heading"), "content": st.lists(_inline, max_size=2)},
                          optional={"attrs": st.fixed_dictionaries({"level": st.integers(0, 7)})}),
    st.fixed_dictionaries({"type": st.just("codeBlock"), "content": st.lists(_text, max_size=2)}),
    st.fixed_dictionaries({"type": st.sampled_from(["bulletList", "orderedList"]),
                           "content": st.lists(st.fixed_dictionaries(
                               {"type": st.just("listItem"), "content": st.lists(_para, max_size=2)}), max_size=2)}),
    st.just({"type": "rule"}),
)
_doc = st.fixed_dictionaries({"type": st.sampled_from(["doc", "paragraph"]), "version": st.sampled_from([1, 2]),
                              "content": st.lists(_block, max_size=4)})


@requires_specs
@settings(max_examples=150, deadline=None)
@given(_doc)
def test_compiled_adf_checker_agrees_with_jsonschema(doc):
    schema = specs.adf_schema()
    compiled = _compiled(schema)
    assert compiled(doc) == _slow(schema).is_valid(doc), json.dumps(doc)


_cache: dict[int, object] = {}
_validators: dict[int, Draft4Validator] = {}


def _slow(schema):
    return _validators.setdefault(id(schema), Draft4Validator(schema))


def _compiled(schema):
    if id(schema) not in _cache:
        _cache[id(schema)] = SchemaCompiler(schema).compile()
    return _cache[id(schema)]


@requires_specs
def test_a_served_operation_the_document_lacks_is_a_failure_not_a_free_pass(h, sb, tokens):
    sb.conformance._by_len.clear()  # as if Atlassian's document no longer described what the sandbox serves
    assert h.api("GET", "project/ACME", tokens).status_code == 200
    [failure] = sb.conformance.failures
    assert (failure.kind, failure.path, failure.message) == (
        "request", f"/ex/jira/{sb.cfg.sites[0].cloud_id}/rest/api/3/project/ACME",
        "not an operation of Atlassian's OpenAPI document")
