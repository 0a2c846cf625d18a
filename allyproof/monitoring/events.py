"""The "scan completed" event that later work (auto-push, regression comments) hooks into.

Receivers are declared in allyproof.core.plugs (SCAN_COMPLETED, VIOLATIONS_FIXED) and run after the
ingestion's transaction commits, so they never see a scan that was rolled back. `subscribe` adds a
receiver for this process only (tests and tools that watch events); it wires nothing in production. They must be
quick (enqueue a job, don't do the work); a failing receiver is logged and never undoes a scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from allyproof.core import plugs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanCompleted:
    scan_id: int
    site_id: int
    organization_id: int
    new_violation_ids: tuple[int, ...]
    reopened_violation_ids: tuple[int, ...]


Receiver = Callable[[ScanCompleted], None]
_receivers: list[Receiver] = []


def subscribe(receiver: Receiver) -> Receiver:
    if receiver not in _receivers:
        _receivers.append(receiver)
    return receiver


def unsubscribe(receiver: Receiver) -> None:
    if receiver in _receivers:
        _receivers.remove(receiver)


def publish_on_commit(event: ScanCompleted) -> None:
    def deliver() -> None:
        for receiver in (*plugs.plugged(plugs.SCAN_COMPLETED), *_receivers):
            try:
                receiver(event)
            except Exception:
                log.exception("scan_completed.receiver_failed scan=%s receiver=%s", event.scan_id, receiver)

    transaction.on_commit(deliver)


# --- violations fixed by a scan (issue 10) ------------------------------------------------------
# A separate event with its own receivers, so the scan-completed path stays as it is.


@dataclass(frozen=True)
class ViolationsFixed:
    scan_id: int
    site_id: int
    organization_id: int
    violation_ids: tuple[int, ...]
    scanned_at: object  # aware datetime of the scan that no longer found them


FixedReceiver = Callable[[ViolationsFixed], None]
_fixed_receivers: list[FixedReceiver] = []


def subscribe_fixed(receiver: FixedReceiver) -> FixedReceiver:
    if receiver not in _fixed_receivers:
        _fixed_receivers.append(receiver)
    return receiver


def unsubscribe_fixed(receiver: FixedReceiver) -> None:
    if receiver in _fixed_receivers:
        _fixed_receivers.remove(receiver)


def publish_fixed_on_commit(event: ViolationsFixed) -> None:
    def deliver() -> None:
        for receiver in (*plugs.plugged(plugs.VIOLATIONS_FIXED), *_fixed_receivers):
            try:
                receiver(event)
            except Exception:
                log.exception("violations_fixed.receiver_failed scan=%s receiver=%s", event.scan_id, receiver)

    transaction.on_commit(deliver)
