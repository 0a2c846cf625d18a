"""The unknown-outcome protocol for creates: when may we create again, search, or must we wait (DESIGN §8).

Creating an issue is not idempotent in Jira, and a create whose answer we did not see (timeout,
dropped connection, 5xx, an unreadable 2xx, our own crash) may still commit long after our client gave
up. So after such an outcome there is no second create until
  (a) the commit window has passed since the create was sent (Jira can no longer commit it), and
  (b) a label search made after the search-lag window that followed found nothing
      (earlier searches, spread over the window, only let us find the issue sooner).
The first look is due `first_look` after the send, not at once: Jira's search trails its writes by
seconds, so a search sent a moment after a dropped answer mostly misses and only costs a paced call.
A create that timed out after 15 s is already past it and is looked for at once. The first look is
optional for the guarantee: only a search sent after commit + lag allows a create.
Pure: plain values and `now` in, a decision out. Nothing here waits; callers defer the work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SEARCHES = 4  # label searches spread over the search-lag window (the first at its start, the last at its end)


@dataclass(frozen=True)
class Windows:
    commit: dt.timedelta  # longest time Jira could still commit a create, counted from when it was sent
    search_lag: dt.timedelta  # longest time Jira's search index trails a commit
    first_look: dt.timedelta = dt.timedelta(0)  # when the first label search is due after the send

    @classmethod
    def from_config(cls, config) -> Windows:
        return cls(dt.timedelta(seconds=config.jira_commit_window_seconds),
                   dt.timedelta(seconds=config.jira_search_lag_seconds),
                   dt.timedelta(seconds=config.jira_first_look_seconds))

    def total(self) -> dt.timedelta:
        return self.commit + self.search_lag

    def first(self) -> dt.timedelta:
        """The first look never comes later than the commit window's end, where the spread searches start."""
        return min(self.first_look, self.commit)


@dataclass(frozen=True)
class Step:
    action: str  # "create" | "search" | "wait"
    at: dt.datetime | None = None  # for "wait": when the next search is due


CREATE, SEARCH = Step("create"), Step("search")


def checkpoints(sent_at: dt.datetime, windows: Windows) -> list[dt.datetime]:
    """When label searches are due: spread from the end of the commit window to the end of the lag window."""
    start = sent_at + windows.commit
    if SEARCHES == 1 or not windows.search_lag:
        return [start]
    return [start + windows.search_lag * i / (SEARCHES - 1) for i in range(SEARCHES)]


def next_step(*, sent_at: dt.datetime | None, checked_at: dt.datetime | None, now: dt.datetime,
              windows: Windows) -> Step:
    """What the next attempt for a reservation may do.

    `sent_at`: when the last create with an unknown outcome was sent (None: no create is outstanding).
    `checked_at`: when the last label search since then was sent (None: none yet)."""
    if sent_at is None:
        return CREATE
    final = sent_at + windows.total()
    if checked_at is not None and checked_at >= final:
        return CREATE  # searched after Jira could have committed and indexed it: nothing is there
    if checked_at is None or checked_at < sent_at:  # the first look: once search has likely caught up
        first = sent_at + windows.first()
        return SEARCH if now >= first else Step("wait", first)
    due = next((at for at in checkpoints(sent_at, windows) if at > checked_at), final)
    return SEARCH if now >= due else Step("wait", due)
