"""The unknown-outcome protocol's decisions, on plain values and `now` (outcome.next_step)."""

import datetime as dt

import pytest

from allyproof.integrations.jira.outbound import outcome

T = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
W = outcome.Windows(commit=dt.timedelta(minutes=5), search_lag=dt.timedelta(minutes=10),
                    first_look=dt.timedelta(seconds=6))


def at(minutes):
    return T + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(("sent", "checked", "now", "expected"), [
    (None, None, at(0), outcome.CREATE),  # nothing outstanding
    (at(0), None, at(0), outcome.Step("wait", at(0.1))),  # right after a reset or a 5xx: search would miss
    (at(0), None, at(0.05), outcome.Step("wait", at(0.1))),
    (at(0), None, at(0.1), outcome.SEARCH),  # the first look, once search has likely caught up
    (at(0), None, at(0.25), outcome.SEARCH),  # a create that timed out after 15 s: look at once
    (at(0), at(-1), at(0), outcome.Step("wait", at(0.1))),  # a search before this send does not count
    (at(0), at(-1), at(0.1), outcome.SEARCH),
    (at(0), at(0.1), at(0.2), outcome.Step("wait", at(5))),  # it missed: wait out the commit window
    (at(0), at(0.1), at(60), outcome.SEARCH),  # never create on the early look alone, however late
    (at(0), at(0), at(1), outcome.Step("wait", at(5))),
    (at(0), at(0), at(5), outcome.SEARCH),
    (at(0), at(5), at(6), outcome.Step("wait", at(5 + 10 / 3))),  # searches spread over the lag window
    (at(0), at(5 + 10 / 3), at(9), outcome.Step("wait", at(5 + 20 / 3))),
    (at(0), at(5 + 20 / 3), at(15), outcome.SEARCH),
    (at(0), at(14.99), at(15), outcome.SEARCH),  # the final look is due at 15
    (at(0), at(14.99), at(14.995), outcome.Step("wait", at(15))),
    (at(0), at(15), at(15), outcome.CREATE),  # searched after commit + lag: nothing is there
    (at(0), at(60), at(60), outcome.CREATE),  # came back late: one search then was enough
    (at(0), at(1), at(60), outcome.SEARCH),  # but never create on an early search alone
])
def test_next_step(sent, checked, now, expected):
    assert outcome.next_step(sent_at=sent, checked_at=checked, now=now, windows=W) == expected


def test_checkpoints_span_the_lag_window_after_the_commit_window():
    assert outcome.checkpoints(T, W) == [at(5), at(5 + 10 / 3), at(5 + 20 / 3), at(15)]
    zero = outcome.Windows(dt.timedelta(0), dt.timedelta(0))
    assert outcome.checkpoints(T, zero) == [T]
    assert outcome.next_step(sent_at=T, checked_at=T, now=T, windows=zero) == outcome.CREATE


def test_the_first_look_comes_no_later_than_the_commit_window_end():
    late = outcome.Windows(commit=dt.timedelta(minutes=5), search_lag=dt.timedelta(minutes=10),
                           first_look=dt.timedelta(minutes=7))
    assert late.first() == dt.timedelta(minutes=5)
    assert outcome.next_step(sent_at=T, checked_at=None, now=at(1), windows=late) == outcome.Step("wait", at(5))
    assert outcome.next_step(sent_at=T, checked_at=None, now=at(5), windows=late) == outcome.SEARCH
    # Looked at the commit window's end, it missed: the spread searches go on; still no create.
    assert outcome.next_step(sent_at=T, checked_at=at(5), now=at(6), windows=late) == outcome.Step("wait",
                                                                                                   at(5 + 10 / 3))
    zero = outcome.Windows(dt.timedelta(0), dt.timedelta(0), first_look=dt.timedelta(seconds=5))
    assert zero.first() == dt.timedelta(0)
    assert outcome.next_step(sent_at=T, checked_at=None, now=T, windows=zero) == outcome.SEARCH


@pytest.mark.parametrize("first_look", [0, 1, 5, 300, 900])
def test_no_create_before_a_search_after_both_windows_whenever_the_first_look_is(first_look):
    """Walk the protocol as a caller does (every search finds nothing): the first create it allows comes
    only after a search sent at commit + lag, whatever the first look's setting."""
    windows = outcome.Windows(commit=dt.timedelta(minutes=5), search_lag=dt.timedelta(minutes=10),
                              first_look=dt.timedelta(seconds=first_look))
    now, checked, searches = T, None, []
    for _ in range(20):
        step = outcome.next_step(sent_at=T, checked_at=checked, now=now, windows=windows)
        if step.action == "create":
            break
        if step.action == "wait":
            assert step.at > now
            now = step.at
        else:
            searches.append(now)
            checked = now
    assert step == outcome.CREATE
    assert searches[0] == T + min(dt.timedelta(seconds=first_look), windows.commit)
    assert searches[-1] >= T + windows.total()


def test_windows_come_from_settings(settings):
    windows = outcome.Windows.from_config(settings.CONFIG)
    assert windows.commit == dt.timedelta(seconds=300) and windows.search_lag == dt.timedelta(seconds=600)
    assert windows.first_look == dt.timedelta(seconds=5)
    assert windows.total() == dt.timedelta(minutes=15)
