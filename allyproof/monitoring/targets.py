"""How an axe-core target reads to people, on our pages and in Jira alike.

axe gives an element's target as a list with one entry per frame (the iframe's selector, then the selector
inside it); an entry that is itself a list is a path into shadow DOM (the host, then the selector inside its
shadow root). Read as one line: frames joined by " >>> ", shadow steps by " >> ".
"""

from __future__ import annotations

from typing import Any

NONE = "(no selector)"


def target_text(target: Any) -> str:
    if isinstance(target, str):
        return target or NONE
    parts = [" >> ".join(map(str, level)) if isinstance(level, list) else str(level) for level in target or []]
    return " >>> ".join(parts) or NONE
