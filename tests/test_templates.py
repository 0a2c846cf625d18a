"""Template hygiene that Django does not check for us."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Django's {# … #} comment ends at the end of its line: one that spans lines is not a comment, and its
# text is shown to people on the page (a "Pushing…" button once carried three lines of notes).
UNCLOSED = re.compile(r"\{#(?:(?!#\}).)*$", re.M)


def test_no_template_comment_spans_lines():
    templates = sorted(ROOT.glob("allyproof/**/templates/**/*.html")) + sorted(ROOT.glob("allyproof/templates/**/*.html"))
    assert templates
    found = [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}"
             for path in templates for text in [path.read_text()] for m in UNCLOSED.finditer(text)]
    assert not found, f"use {{% comment %}} for comments over several lines: {found}"


def test_the_check_sees_a_comment_over_two_lines():
    assert UNCLOSED.search("<p>{# a note\n   that goes on #}</p>")
    assert not UNCLOSED.search("<p>{# a note #}</p>")
