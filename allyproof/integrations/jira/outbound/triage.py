"""Tickets a client team can triage: impact -> Jira priority, extra labels and components per site.

Pure checks against what the project's createmeta offers (the same pre-flight as the issue type),
and the reading of the sync-rules form. Values are Jira's names, as people see them in Jira.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from allyproof.core import impact as impacts


LABEL = re.compile(r"^[^\s]{1,255}$")  # Jira labels cannot contain spaces


@dataclass(frozen=True)
class Triage:
    priorities: dict[str, str] = field(default_factory=dict)  # impact -> priority name ("" = Jira's default)
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (any(self.priorities.values()) or self.labels or self.components)


@dataclass(frozen=True)
class Offered:
    """What a project's create screen allows, from createmeta's field list."""
    priorities: tuple[str, ...]
    components: tuple[str, ...]
    has_priority: bool
    has_components: bool


def offered(fields: list[dict[str, Any]]) -> Offered:
    by_id = {f.get("fieldId"): f for f in fields}
    names = lambda f: tuple(str(v.get("name")) for v in (f or {}).get("allowedValues", []) if v.get("name"))  # noqa: E731
    return Offered(priorities=names(by_id.get("priority")), components=names(by_id.get("components")),
                   has_priority="priority" in by_id, has_components="components" in by_id)


def problems(triage: Triage, offer: Offered, *, project_key: str, issue_type: str) -> list[str]:
    found = []
    for impact in impacts.VALUES:
        name = triage.priorities.get(impact, "")
        if not name:
            continue
        if not offer.has_priority:
            found.append(f"{issue_type} issues in {project_key} have no priority field: leave the priorities on Default.")
            break
        if name not in offer.priorities:
            found.append(f"{project_key} has no priority {name!r} (it has {', '.join(offer.priorities) or 'none'}).")
    for component in triage.components:
        if component not in offer.components:
            found.append(f"{project_key} has no component {component!r}"
                         + (f" (it has {', '.join(offer.components)})." if offer.components else " (it has none)."))
    for label in triage.labels:
        if not LABEL.match(label):
            found.append(f"{label!r} is not a Jira label: labels have no spaces and at most 255 characters.")
    return found


def from_post(post, site_id: int) -> Triage:
    """The triage part of one sync-rules row as posted (labels: separated by commas or spaces)."""
    prefix = f"site-{site_id}-"
    labels = tuple(dict.fromkeys(x for x in re.split(r"[,\s]+", post.get(prefix + "labels", "")) if x))
    return Triage(
        priorities={i: post.get(f"{prefix}priority-{i}", "").strip() for i in impacts.VALUES if post.get(f"{prefix}priority-{i}", "").strip()},
        labels=labels, components=tuple(dict.fromkeys(post.getlist(prefix + "components"))),
    )


def for_rule(rule) -> Triage:
    return Triage(priorities=dict(rule.priorities or {}), labels=tuple(rule.extra_labels or ()),
                  components=tuple(rule.components or ()))
