"""The unknown-outcome protocol's decisions, on plain values and `now` (outcome.next_step)."""

import datetime as dt

import pytest

from allyproof.integrations.jira import outcome

T = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
W = outcome.Windows(commit=dt.timedelta(minutes=5), search_lag=dt.timedelta(minutes=10))


def at(minutes):
    return T + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(("sent", "checked", "now", "expected"), [
    (None, None, at(0), outcome.CREATE),  # nothing outstanding
    (at(0), None, at(0), outcome.SEARCH),  # right after the unknown outcome: look once at once
    (at(0), at(-1), at(0), outcome.SEARCH),  # a search before this send does not count
    (at(0), at(0), at(1), outcome.Step("wait", at(5))),  # then wait out the commit window
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


def test_windows_come_from_settings(settings):
    windows = outcome.Windows.from_config(settings.CONFIG)
    assert windows.commit == dt.timedelta(seconds=300) and windows.search_lag == dt.timedelta(seconds=600)
    assert windows.total() == dt.timedelta(minutes=15)
