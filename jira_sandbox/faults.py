"""Fault injection: the next N requests matching a method and path pattern misbehave on purpose."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import httpx

KINDS = ("error", "timeout", "reset", "drop_response_after_commit", "rate_limit", "latency",
         # Jira ran (or will run) the request, but the caller cannot know it:
         "late_commit",            # hang past the client's timeout; the write commits `commit_after` later
         "commit_then_unreadable",  # the write commits, the 2xx answer is not JSON (a proxy's HTML page)
         "commit_then_error",       # the write commits, the answer is `status` (500) anyway
         )
# drop/duplicate act on a send; delay/reorder/redeliver act when the delivery is queued:
# delay postpones it by `seconds`, reorder holds it behind the deliveries due with it, redeliver sends it
# again `seconds` later under a new identifier (a late retry, as seen from the receiver).
DELIVERY_KINDS = ("drop", "duplicate", "delay", "reorder", "redeliver")
QUEUE_KINDS = frozenset({"delay", "reorder", "redeliver"})


class SandboxTimeout(httpx.ReadTimeout):
    """In-process stand-in for a server that hangs past the client's timeout.
    httpx.WSGITransport propagates it, so `except httpx.TimeoutException` sees it as in real life."""


class SandboxConnectionReset(httpx.ReadError):
    """In-process stand-in for a TCP reset (ConnectionResetError surfaces as httpx.ReadError)."""


class SandboxResponseDropped(httpx.RemoteProtocolError):
    """The request ran (an issue was created) but the connection closed before any response:
    httpx reports 'Server disconnected without sending a response.' as RemoteProtocolError."""


@dataclass
class Fault:
    id: int
    kind: str
    method: str | None
    path: str
    count: int
    status: int = 500
    seconds: float = 30.0
    reason: str = "jira-burst-based"
    retry_after: int = 5  # rate_limit: 0 sends a bare 429, without Retry-After or any rate-limit header
    commit_after: float = 20.0  # late_commit: sandbox-clock seconds between the request and its commit
    hits: int = 0
    _rx: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rx = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and self._rx.search(path) is not None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "method": self.method, "path": self.path,
                "remaining": self.count, "hits": self.hits, "status": self.status, "seconds": self.seconds,
                "reason": self.reason, "retry_after": self.retry_after, "commit_after": self.commit_after}


@dataclass
class DeliveryFault:
    id: int
    kind: str
    count: int
    seconds: float = 300.0


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._delivery: list[DeliveryFault] = []
        self._ids = count(1)
        self._lock = threading.Lock()

    def add(self, *, kind: str, path: str = ".*", method: str | None = None, count: int = 1,
            status: int | None = None, seconds: float | None = None, reason: str | None = None,
            retry_after: int | None = None, commit_after: float | None = None) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
        fault = Fault(next(self._ids), kind, method, path, count)
        if status is not None:
            fault.status = status
        if seconds is not None:
            fault.seconds = seconds
        elif kind == "latency":
            fault.seconds = 0.5
        if reason is not None:
            fault.reason = reason
        if retry_after is not None:
            fault.retry_after = retry_after
        if commit_after is not None:
            if float(commit_after) < 0:
                raise ValueError("commit_after must be zero or more seconds")
            fault.commit_after = float(commit_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_delivery(self, *, kind: str, count: int = 1, seconds: float | None = None) -> DeliveryFault:
        if kind not in DELIVERY_KINDS:
            raise ValueError(f"unknown delivery fault {kind!r}; one of {DELIVERY_KINDS}")
        fault = DeliveryFault(next(self._ids), kind, count)
        if seconds is not None:
            if float(seconds) < 0:
                raise ValueError("seconds must not be negative")
            fault.seconds = float(seconds)
        with self._lock:
            self._delivery.append(fault)
        return fault

    def take(self, method: str, path: str) -> list[Fault]:
        """Consume one use of each matching fault (latency can combine with one other kind)."""
        taken: list[Fault] = []
        with self._lock:
            for fault in self._faults:
                if fault.count > 0 and fault.matches(method, path):
                    if fault.kind != "latency" and any(f.kind != "latency" for f in taken):
                        continue
                    fault.count -= 1
                    fault.hits += 1
                    taken.append(fault)
            self._faults = [f for f in self._faults if f.count > 0]
        return taken

    def take_delivery(self, *, queued: bool = False) -> str | None:
        """The next send fault (queued=False) or queueing fault (queued=True), consumed once."""
        taken = self.take_delivery_fault(queued=queued)
        return taken.kind if taken is not None else None

    def take_delivery_fault(self, *, queued: bool = False) -> DeliveryFault | None:
        with self._lock:
            for fault in self._delivery:
                if fault.count > 0 and (fault.kind in QUEUE_KINDS) == queued:
                    fault.count -= 1
                    self._delivery = [f for f in self._delivery if f.count > 0]
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delivery.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults] + [
                {"id": d.id, "kind": f"delivery:{d.kind}", "remaining": d.count} for d in self._delivery]
