"""Whether a violation can be pushed, and why not: one table used by every path (DESIGN §8).

The button's state and tooltip, the bulk counts, the picker, auto-push and the server's check at push
time all call `block_reason`. Pure: plain values in, a sentence (or None) out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from allyproof.core import impact as impacts



@dataclass(frozen=True)
class Situation:
    connection_status: str | None  # None: never connected or disconnected
    rule_enabled: bool
    project_key: str
    severities: frozenset[str]
    impact: str
    violation_status: str
    linked_key: str | None  # the live link's issue key ("" while being created), None when unlinked


def _severities(s: Situation) -> str:
    chosen = [impacts.label(i) for i in impacts.VALUES if i in s.severities]
    pushes = f"it pushes {', '.join(chosen)}" if chosen else "no severity is ticked"
    return f"{impacts.label(s.impact)} violations are below this site's threshold ({pushes})."


# In order: the first failing gate is the reason shown.
GATES: tuple[tuple[Callable[[Situation], bool], Callable[[Situation], str]], ...] = (
    (lambda s: s.connection_status in (None, "disconnected", "choosing_site"),
     lambda s: "Jira is not connected. An owner or admin can connect it under Settings → Integrations."),
    (lambda s: s.connection_status == "needs_reconnect",
     lambda s: "The Jira connection needs to be reconnected by an owner or admin."),
    (lambda s: not s.rule_enabled, lambda s: "This site is excluded from Jira sync."),
    (lambda s: not s.project_key, lambda s: "This site has no Jira project key configured."),
    (lambda s: s.impact not in s.severities, _severities),
    (lambda s: s.violation_status != "open", lambda s: "This violation is resolved."),
    (lambda s: s.linked_key == "", lambda s: "This violation is being pushed to Jira right now."),
    (lambda s: bool(s.linked_key), lambda s: f"Already in Jira as {s.linked_key}."),
)


def block_reason(situation: Situation) -> str | None:
    for failing, reason in GATES:
        if failing(situation):
            return reason(situation)
    return None
