"""The one decision of status sync back, for webhooks and reconciliation alike (DESIGN §9).

A linked violation is resolved by Jira only when its issue entered a Done-*category* status after the
violation was last opened or reopened (by a scan or a person). The time compared is when the issue
entered its current category (Jira's `statuscategorychangedate`, or the delivery's time for a status
change in its changelog), never the status name, and never the time the news happened to arrive: a
Done delivered late, after a reopen, is recorded and ignored. An issue that leaves Done takes back a
resolution Jira made (and only one Jira made). An observation older than one already applied is stale.

Pure and table-driven: facts in, a decision out; the callers write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from allyproof.integrations.jira.status_category import DONE


@dataclass(frozen=True)
class Facts:
    violation_open: bool
    resolved_by_jira: bool          # resolved, and Jira (not a person) did it
    opened_at: dt.datetime          # first detection, or the last reopen by a scan or a person
    known_changed_at: dt.datetime | None  # the newest category change already applied to this link
    category: str                   # the status category key now: new, indeterminate, done
    changed_at: dt.datetime | None  # when the issue entered that category


@dataclass(frozen=True)
class Decision:
    action: str   # resolve, reopen, none
    code: str     # stable reason code, shown and filterable in the sync log
    message: str

    @property
    def changes_violation(self) -> bool:
        return self.action != "none"


Rule = tuple[Callable[[Facts], bool], str, str, str]

# First matching row wins. Order matters: staleness before anything else, then the reopen guard.
RULES: list[Rule] = [
    (lambda f: f.changed_at is None, "none", "no_change_time", "ignored: Jira gave no time for the status change"),
    (lambda f: f.known_changed_at is not None and f.changed_at < f.known_changed_at,
     "none", "stale", "ignored: older than a status change already applied"),
    (lambda f: f.category == DONE and f.changed_at <= f.opened_at,
     "none", "done_before_reopen", "ignored: Done older than reopen"),
    (lambda f: f.category == DONE and f.violation_open, "resolve", "entered_done", "resolved: the issue entered Done"),
    (lambda f: f.category == DONE, "none", "already_resolved", "ignored: already resolved"),
    (lambda f: f.resolved_by_jira and not f.violation_open,
     "reopen", "left_done", "reopened: the issue left Done, so Jira's resolution no longer holds"),
    (lambda f: True, "none", "not_done", "ignored: the issue is not in a Done-category status"),
]


def decide(facts: Facts) -> Decision:
    for matches, action, code, message in RULES:
        if matches(facts):
            return Decision(action, code, message)
    raise AssertionError("the last rule always matches")
