"""When a site's scheduled scan is due. Pure: takes `now`, returns the slot to fire or None."""

from __future__ import annotations

import datetime as dt


def latest_slot(*, schedule: str, at: dt.time, weekday: int, now: dt.datetime) -> dt.datetime | None:
    """The most recent scheduled instant at or before `now` (UTC), or None when the schedule is off."""
    if schedule == "off":
        return None
    today = dt.datetime.combine(now.date(), at, tzinfo=dt.UTC)
    if schedule == "daily":
        return today if today <= now else today - dt.timedelta(days=1)
    if schedule == "weekly":
        back = (now.weekday() - weekday) % 7
        slot = today - dt.timedelta(days=back)
        return slot if slot <= now else slot - dt.timedelta(days=7)
    raise ValueError(f"unknown schedule {schedule!r}")


def due_slot(*, schedule: str, at: dt.time, weekday: int, since: dt.datetime | None,
             now: dt.datetime) -> dt.datetime | None:
    """The slot to fire now: the latest one, unless it is older than when the schedule was set."""
    slot = latest_slot(schedule=schedule, at=at, weekday=weekday, now=now)
    if slot is None or since is None or slot < since:
        return None
    return slot


def next_slot(*, schedule: str, at: dt.time, weekday: int, now: dt.datetime) -> dt.datetime | None:
    latest = latest_slot(schedule=schedule, at=at, weekday=weekday, now=now)
    if latest is None:
        return None
    return latest + (dt.timedelta(days=1) if schedule == "daily" else dt.timedelta(days=7))
