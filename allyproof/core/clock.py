"""The one clock seam: aware UTC only. Tests move time with `frozen` or `follow`, never by patching."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

_source: Callable[[], dt.datetime] | None = None


def now() -> dt.datetime:
    return _source() if _source is not None else dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def follow(source: Callable[[], dt.datetime]):
    """Read the time from `source` (e.g. the Jira sandbox's controllable clock) inside the block."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


@contextlib.contextmanager
def frozen(at: dt.datetime):
    if at.tzinfo is None:
        raise ValueError("clock.frozen needs an aware datetime")
    with follow(lambda: at):
        yield
