"""Catching up on webhooks Jira never delivered (DESIGN §9 "Missed webhooks").

Periodically, the linked issues of still-open violations are searched in batches
(`key IN (…) AND statusCategory = Done`) and what a lost webhook would have done is applied.
Jira answers 400 for a whole batch when one key no longer exists, so such a batch is checked key by
key: a 404 means the issue was deleted, as if jira:issue_deleted had arrived.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from allyproof.core import clock, metrics
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_resolve

from .client import JiraClient
from .errors import JiraNotFound, JiraValidationError
from .models import JiraConnection, JiraLink

log = logging.getLogger(__name__)
BATCH = 50


@dataclass
class Caught:
    resolved: int = 0
    deleted: int = 0


def _open_links(connection: JiraConnection) -> list[JiraLink]:
    return list(JiraLink.objects.filter(
        organization_id=connection.organization_id, cloud_id=connection.cloud_id, status=JiraLink.Status.LINKED,
        violation__status=Violation.Status.OPEN,
    ).select_related("violation").order_by("pk"))


def _resolve(link: JiraLink, caught: Caught) -> None:
    violation_resolve(violation=link.violation, source=f"jira:{link.issue_key}")
    caught.resolved += 1


def _one_by_one(client: JiraClient, batch: list[JiraLink], caught: Caught) -> None:
    for link in batch:
        try:
            issue = client.get_issue(link.issue_key, fields="status")
        except JiraNotFound:
            link.status, link.deleted_at = JiraLink.Status.DELETED, clock.now()
            link.save(update_fields=["status", "deleted_at"])
            caught.deleted += 1
            continue
        if ((issue.get("fields") or {}).get("status") or {}).get("statusCategory", {}).get("key") == "done":
            _resolve(link, caught)


def reconcile(*, connection: JiraConnection, client: JiraClient, batch_size: int = BATCH) -> Caught:
    caught = Caught()
    links = _open_links(connection)
    for start in range(0, len(links), batch_size):
        batch = links[start : start + batch_size]
        by_key = {link.issue_key: link for link in batch}
        jql = f"key IN ({', '.join(by_key)}) AND statusCategory = Done"
        try:
            done = client.search(jql, fields=["status"], page_size=batch_size)
        except JiraValidationError:
            _one_by_one(client, batch, caught)
            continue
        for issue in done:
            if issue.get("key") in by_key:
                _resolve(by_key[issue["key"]], caught)
    if caught.resolved or caught.deleted:
        log.info("jira.reconcile connection=%s resolved=%s deleted=%s", connection.pk, caught.resolved, caught.deleted)
    metrics.reconcile_decisions(checked=len(links), resolved=caught.resolved, deleted=caught.deleted)
    return caught
