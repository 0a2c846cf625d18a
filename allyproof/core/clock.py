"""The one clock seam: aware UTC only. Tests move time with `frozen`, never by patching."""

from __future__ import annotations

import contextlib
import datetime as dt

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen or dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def frozen(at: dt.datetime):
    global _frozen
    if at.tzinfo is None:
        raise ValueError("clock.frozen needs an aware datetime")
    previous, _frozen = _frozen, at
    try:
        yield
    finally:
        _frozen = previous
