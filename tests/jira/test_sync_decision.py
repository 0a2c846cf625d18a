"""The one decision of status sync back, row by row (pure: facts in, decision out)."""

import datetime as dt

import pytest

from allyproof.integrations.jira.inbound.sync_decision import Facts, decide

T = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


def facts(**over):
    base = {"violation_open": True, "resolved_by_jira": False, "opened_at": T, "known_changed_at": None,
            "category": "done", "changed_at": T + MIN}
    return Facts(**{**base, **over})


@pytest.mark.parametrize(("over", "action", "code"), [
    ({}, "resolve", "entered_done"),
    ({"changed_at": T}, "none", "done_before_reopen"),                 # at the reopen is not after it
    ({"changed_at": T - MIN}, "none", "done_before_reopen"),
    ({"changed_at": None}, "none", "no_change_time"),
    ({"known_changed_at": T + 2 * MIN}, "none", "stale"),                # older than what was applied
    ({"known_changed_at": T + MIN}, "resolve", "entered_done"),          # the same change again is not stale
    ({"violation_open": False}, "none", "already_resolved"),
    ({"category": "indeterminate"}, "none", "not_done"),
    ({"category": "new", "changed_at": T - MIN}, "none", "not_done"),  # only a Done is "older than reopen"
    ({"category": "new", "violation_open": False}, "none", "not_done"),  # a person's resolution stays
    ({"category": "new", "violation_open": False, "resolved_by_jira": True}, "reopen", "left_done"),
    ({"category": "indeterminate", "violation_open": False, "resolved_by_jira": True,
      "known_changed_at": T + 2 * MIN}, "none", "stale"),
])
def test_decision_table(over, action, code):
    decision = decide(facts(**over))
    assert (decision.action, decision.code) == (action, code)
    assert decision.message


def test_the_reason_for_an_old_done_is_written_as_people_read_it():
    assert decide(facts(changed_at=T - MIN)).message == "ignored: Done older than reopen"
