"""The JQL subset the product uses, for search and for webhook jqlFilter.

Grammar: clause ((AND|OR) clause)* [ORDER BY field [ASC|DESC], ...], parentheses allowed;
clause := field (= | != ) value | field [NOT] IN (value, ...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."

# JQL field aliases, as Jira accepts them.
FIELD_ALIASES = {
    "project": "project", "key": "key", "issuekey": "key", "issue": "key", "id": "key",
    "labels": "labels", "label": "labels", "statuscategory": "statusCategory", "status": "status",
    "issuetype": "issuetype", "type": "issuetype", "assignee": "assignee", "reporter": "reporter",
    "summary": "summary", "created": "created", "updated": "updated",
}
# Dynamic webhooks accept only these clauses (Atlassian webhooks page; README §2.6).
WEBHOOK_FIELDS = {"project", "key", "issuetype", "status", "assignee", "reporter"}
ORDERABLE = {"key", "created", "updated", "project", "status", "summary", "issuetype", "rank", "priority"}

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|=|\(|\)|,)'
                    r'|(?P<word>[^\s=!(),"\']+))')


class JqlError(ValueError):
    """Jira answers these with 400 and the message in errorMessages."""


@dataclass
class Clause:
    field: str        # canonical name
    written: str      # as written, for messages
    op: str           # = != in not in
    values: list[str]


@dataclass
class BoolOp:
    op: str  # and | or
    parts: list[Any]


@dataclass
class Query:
    where: Any | None               # Clause | BoolOp | None
    order_by: list[tuple[str, bool]]  # (field, descending)

    def clauses(self) -> list[Clause]:
        out: list[Clause] = []
        stack = [self.where] if self.where is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, Clause):
                out.append(node)
            else:
                stack.extend(node.parts)
        return out


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: The character '{text[pos]}' is a reserved JQL character.")
        pos = m.end()
        if m.group("str") is not None:
            raw = m.group("str")[1:-1]
            tokens.append(("value", re.sub(r"\\(.)", r"\1", raw)))
        elif m.group("op") is not None:
            tokens.append(("op", m.group("op")))
        elif m.group("word") is not None:
            tokens.append(("word", m.group("word")))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise JqlError("Error in the JQL Query: Expecting either a value, list or function but got end of query.")
        self.i += 1
        return tok

    def parse(self) -> Query:
        where = None
        if self.peek() is not None and not self.keyword("order"):
            where = self.expr()
        order = self.order_by() if self.keyword("order") else []
        if self.peek() is not None:
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{self.peek()[1]}'.")
        return Query(where, order)

    def expr(self) -> Any:
        parts = [self.conj()]
        while self.keyword("or"):
            self.i += 1
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else BoolOp("or", parts)

    def conj(self) -> Any:
        parts = [self.atom()]
        while self.keyword("and"):
            self.i += 1
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else BoolOp("and", parts)

    def atom(self) -> Any:
        if self.peek() == ("op", "("):
            self.i += 1
            inner = self.expr()
            if self.take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: Expecting ')' before the end of the query.")
            return inner
        return self.clause()

    def clause(self) -> Clause:
        kind, written = self.take()
        if kind not in ("word", "value"):
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{written}'.")
        field = FIELD_ALIASES.get(written.lower(), written)
        if self.keyword("not") and (self.peek(1) or ("", ""))[1].lower() == "in":
            self.i += 2
            return Clause(field, written, "not in", self.value_list())
        if self.keyword("in"):
            self.i += 1
            return Clause(field, written, "in", self.value_list())
        op = self.take()
        if op not in (("op", "="), ("op", "!=")):
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op[1]}'. "
                           "Valid operators for this sandbox are '=', '!=', 'in' and 'not in'.")
        return Clause(field, written, op[1], [self.value()])

    def value(self) -> str:
        kind, text = self.take()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: Expecting either a value, list or function but got '{text}'.")
        return text

    def value_list(self) -> list[str]:
        if self.take() != ("op", "("):
            raise JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
        values = [self.value()]
        while self.peek() == ("op", ","):
            self.i += 1
            values.append(self.value())
        if self.take() != ("op", ")"):
            raise JqlError("Error in the JQL Query: Expecting ')' after the list of values.")
        return values

    def order_by(self) -> list[tuple[str, bool]]:
        self.i += 1
        if not self.keyword("by"):
            raise JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
        self.i += 1
        out = [self.order_item()]
        while self.peek() == ("op", ","):
            self.i += 1
            out.append(self.order_item())
        return out

    def order_item(self) -> tuple[str, bool]:
        _, written = self.take()
        field = FIELD_ALIASES.get(written.lower(), written.lower())
        if field not in ORDERABLE:
            raise JqlError(f"Not able to sort using field '{written}'.")
        desc = False
        if self.keyword("asc", "desc"):
            desc = self.take()[1].lower() == "desc"
        return field, desc


def parse(text: str) -> Query:
    return _Parser(text or "").parse()


def webhook_filter_errors(text: str) -> list[str]:
    """Per-item errors for POST webhook: unsupported clauses, as Jira words them."""
    try:
        query = parse(text)
    except JqlError as exc:
        return [str(exc)]
    errors = [f"The clause {c.written} is unsupported" for c in query.clauses() if c.field not in WEBHOOK_FIELDS]
    if query.order_by:
        errors.append("The ORDER BY clause is unsupported")
    return errors


def evaluate(node: Any, doc: dict[str, Any]) -> bool:
    """Does an issue document (see issues.search_doc) satisfy the where-clause?"""
    if node is None:
        return True
    if isinstance(node, BoolOp):
        results = (evaluate(p, doc) for p in node.parts)
        return all(results) if node.op == "and" else any(results)
    return _match_clause(node, doc)


def _match_clause(clause: Clause, doc: dict[str, Any]) -> bool:
    candidates: list[str] = [c.lower() for c in doc.get(clause.field, [])]
    hit = any(v.lower() in candidates for v in clause.values)
    if clause.field == "labels" and clause.op in ("!=", "not in") and not candidates:
        return False  # Jira: labels != x does not match issues without labels
    return hit if clause.op in ("=", "in") else not hit


def sort_key(field: str) -> Callable[[dict[str, Any]], Any]:
    def key(doc: dict[str, Any]) -> Any:
        if field in ("key", "rank"):
            return (doc["project_key"], doc["number"])
        if field in ("created", "updated"):
            return doc[field + "_ts"]
        return tuple(doc.get(field, [""]))
    return key
