"""What services hand to the background queue, as callables the task layer supplies.

Services never import `tasks` (that made autopush, jobs and tasks a circle): the layer above them (the
tasks themselves, the event receivers, the operator's command) passes these in. Each takes ids only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Queue:
    push_job: Callable[[int], None]  # a PushJob's id
    scan_followup: Callable[[int], None]  # a ScanFollowUp row's id
    inbound_apply: Callable[[], None]  # a run of the inbound worker over every received delivery
