"""Jira's status categories, written once: what "Done" and "To Do" are, and the transition that leads
into one. Jira's status names are per site and translated; its category keys are fixed (new,
indeterminate, done), so every rule about Done reads the key. Pure: plain dicts in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DONE = "done"  # the category key of Done, Closed, Resolved… whatever the site calls them
TODO = "new"  # the category key of To Do, Open, Backlog…


def leads_to(transition: dict[str, Any]) -> str:
    """The category key of the status a transition (GET …/transitions) moves the issue into; "" if unknown."""
    return str(((transition.get("to") or {}).get("statusCategory") or {}).get("key") or "")


def transition_into(transitions: Iterable[dict[str, Any]], category: str) -> dict[str, Any] | None:
    """The first transition into `category` (Jira lists them in the workflow's order), or None."""
    return next((t for t in transitions if leads_to(t) == category), None)
