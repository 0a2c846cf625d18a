"""A controllable clock: real time by default; tests freeze it and move it forward."""
from __future__ import annotations

import threading
import time
from datetime import datetime, UTC


class Clock:
    def __init__(self, frozen_at: float | None = None) -> None:
        self._frozen_at = frozen_at
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch on the sandbox's timeline."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def freeze(self, at: float | None = None) -> None:
        with self._lock:
            self._frozen_at = time.time() + self._offset if at is None else at

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
            self._frozen_at = None

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0,
                days: float = 0.0) -> float:
        delta = seconds + minutes * 60 + hours * 3600 + days * 86400
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta
        return self.now()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None


def jira_time(ts: float) -> str:
    """Jira's timestamp format, e.g. 2017-11-16T18:55:45.833+0000."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def iso_utc(ts: float) -> str:
    """ISO 8601 as in X-RateLimit-Reset (e.g. 2025-10-08T15:00:00Z)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(ts: float) -> int:
    return int(round(ts * 1000))
