"""Reading Jira's webhook bodies and issue representations into the facts our decisions use."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any


class BadPayload(Exception):
    """Authenticated, but not a webhook body we can read: answered 400 (Atlassian does not retry it)."""


@dataclass(frozen=True)
class Event:
    name: str
    issue_id: str
    issue_key: str
    timestamp: int | None
    issue_self: str
    matched_webhook_ids: tuple[int, ...]
    changelog_id: str
    comment_id: str
    payload: dict[str, Any]

    @property
    def status_changed(self) -> bool:
        items = (self.payload.get("changelog") or {}).get("items") or []
        return any(isinstance(i, dict) and i.get("field") == "status" for i in items)

    @property
    def issue(self) -> dict[str, Any]:
        return self.payload.get("issue") if isinstance(self.payload.get("issue"), dict) else {}

    @property
    def time(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.timestamp / 1000, tz=dt.UTC) if self.timestamp is not None else None


def _id(value: Any) -> str:
    return str(value["id"]) if isinstance(value, dict) and value.get("id") not in (None, "") else ""


def parse(body: bytes) -> Event:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("the body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("webhookEvent"), str):
        raise BadPayload("the body has no webhookEvent")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else {}
    timestamp = payload.get("timestamp")
    matched = payload.get("matchedWebhookIds") or []
    return Event(
        name=payload["webhookEvent"], issue_id=str(issue.get("id", "")), issue_key=str(issue.get("key", "")),
        timestamp=timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None,
        issue_self=str(issue.get("self", "")),
        matched_webhook_ids=tuple(i for i in matched if isinstance(i, int)) if isinstance(matched, list) else (),
        changelog_id=_id(payload.get("changelog")), comment_id=_id(payload.get("comment")), payload=payload,
    )


def jira_time(value: Any) -> dt.datetime | None:
    """Jira's "2017-11-16T18:55:45.833+0000" (also without milliseconds, or with a colon in the offset)."""
    if not isinstance(value, str) or not value:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return dt.datetime.strptime(value, pattern).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Observation:
    """What Jira says about an issue's status at one moment: its category and when it entered it."""
    category: str
    changed_at: dt.datetime | None


def observe_issue(issue: dict[str, Any], *, status_changed_at: dt.datetime | None = None) -> Observation:
    """`statuscategorychangedate` when Jira sends it; otherwise the time of a status change seen in the
    changelog (the delivery's timestamp). Never the status name: names differ across projects."""
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    status = fields.get("status") if isinstance(fields.get("status"), dict) else {}
    category = status.get("statusCategory") if isinstance(status.get("statusCategory"), dict) else {}
    changed_at = jira_time(fields.get("statuscategorychangedate")) or status_changed_at
    return Observation(category=str(category.get("key") or ""), changed_at=changed_at)


def observe_event(event: Event) -> Observation:
    return observe_issue(event.issue, status_changed_at=event.time if event.status_changed else None)
