"""Which addresses may become links. Pure: used by our pages and by the ADF written to Jira.

URLs in scan results come from whoever produced the file; a `javascript:` or `data:` URL made into a
link would run in our page or in Jira's. Only absolute http(s) URLs with a host become links.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")  # browsers strip these, so "java\tscript:" is javascript:


def is_web_url(value: object) -> bool:
    if not isinstance(value, str) or not value or _UNSAFE_CHARACTERS.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def link_text(text: str, href: str) -> str:
    """What is shown instead of a link: the text, and the address when the text is not the address."""
    return text if not href or text == href else f"{text} ({href})"
