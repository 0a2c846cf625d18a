"""Convergence: if Jira ended up with more than one issue for a violation anyway, heal it (DESIGN §8).

After any create that followed an unknown outcome, once Jira's search has caught up (the link's
verify_at), we look by label again. With more than one issue: keep the oldest (the link points at it),
link each newer one to it as a duplicate (an issue link when the site has the "Duplicate" type, and
a comment naming the kept key either way), move it to a Done-category status when the workflow allows,
and record the repair. Every write is an OutboundWrite, so its webhook echo changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import F

from django.conf import settings

from allyproof.core import clock

from allyproof.integrations.jira import status_category
from allyproof.integrations.jira.outbound import content
from allyproof.integrations.jira.outbound import outcome
from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.models import JiraConnection, JiraLink, OutboundWrite, RepairedDuplicate
from allyproof.integrations.jira.outbound.push import find_by_label
from allyproof.integrations.jira.sync_log import sync_log_write

log = logging.getLogger(__name__)
DUPLICATE = "Duplicate"


def converge_due(*, client_for: Callable[[JiraConnection], JiraClient], now=None) -> int:
    """Every link whose look-again time has come, per active connection. Returns duplicates repaired."""
    now = now or clock.now()
    repaired = 0
    for connection in JiraConnection.objects.active():
        links = JiraLink.objects.filter(cloud_id=connection.cloud_id, organization_id=connection.organization_id,
                                        status=JiraLink.Status.LINKED, verify_at__lte=now)
        if not links.exists():
            continue
        client = client_for(connection)
        for link in links:
            try:
                repaired += link_converge(link=link, connection=connection, client=client)
            except JiraError as problem:  # tried again next time: verify_at stays
                log.warning("jira.converge.failed link=%s error=%s", link.pk, problem)
    return repaired


def link_converge(*, link: JiraLink, connection: JiraConnection, client: JiraClient) -> int:
    found = find_by_label(client, link)
    if link.issue_key not in {issue["key"] for issue in found}:
        # Search has not caught up with our own create yet: what it shows proves nothing. Look later.
        lag = outcome.Windows.from_config(settings.CONFIG).search_lag
        JiraLink.objects.filter(pk=link.pk).update(verify_at=clock.now() + lag)
        return 0
    kept, newer = found[0], found[1:]
    if kept["key"] != link.issue_key:
        site = connection.site_url.rstrip("/")
        JiraLink.objects.filter(pk=link.pk).update(issue_key=kept["key"], issue_id=str(kept.get("id", "")),
                                                   issue_url=f"{site}/browse/{kept['key']}")
    duplicate_type = _has_duplicate_type(client) if newer else False
    repaired = sum(_repair(dup["key"], kept["key"], link=link, connection=connection, client=client,
                           duplicate_type=duplicate_type) for dup in newer)
    JiraLink.objects.filter(pk=link.pk).update(verify_at=None)
    return repaired


def _has_duplicate_type(client: JiraClient) -> bool:
    return any(t.get("name") == DUPLICATE for t in client.issue_link_types())


def _record(connection: JiraConnection, key: str, kind: str, jira_id: str = "") -> None:
    OutboundWrite.objects.create(cloud_id=connection.cloud_id, issue_key=key, kind=kind, jira_id=jira_id,
                                 created_at=clock.now())


def _repair(duplicate: str, kept: str, *, link: JiraLink, connection: JiraConnection, client: JiraClient,
            duplicate_type: bool) -> int:
    if RepairedDuplicate.objects.filter(duplicate_key=duplicate, connection__cloud_id=connection.cloud_id).exists():
        return 0
    if duplicate_type:
        _record(connection, duplicate, "link")
        client.link_issues(type_name=DUPLICATE, inward_key=duplicate, outward_key=kept)
    _record(connection, duplicate, "comment")
    comment = client.add_comment(duplicate, content.duplicate_of(kept))
    OutboundWrite.objects.filter(cloud_id=connection.cloud_id, issue_key=duplicate, kind="comment",
                                 jira_id="").update(jira_id=str(comment.get("id", "")))
    closed = _close(duplicate, connection=connection, client=client)
    try:
        with transaction.atomic():
            RepairedDuplicate.objects.create(
                connection=connection, link=link, label=link.label, kept_key=kept, duplicate_key=duplicate,
                issue_linked=duplicate_type, commented=True, closed=closed, repaired_at=clock.now(),
                detail="" if closed else "No transition to a Done-category status was available.")
            JiraConnection.objects.filter(pk=connection.pk).update(duplicates_repaired=F("duplicates_repaired") + 1)
    except IntegrityError:
        return 0  # another runner recorded the same repair
    log.warning("jira.converge.repaired duplicate=%s kept=%s", duplicate, kept)
    sync_log_write(direction="outbound", outcome="written", code="duplicate_repaired",
                   message=f"{duplicate} was a second issue for this violation: commented that it duplicates {kept}"
                   + ("; linked it as a duplicate" if duplicate_type else "")
                   + ("; moved it to Done" if closed else "; no move to Done was available"),
                   connection=connection, violation_id=link.violation_id, issue_key=duplicate)
    return 1


def _close(key: str, *, connection: JiraConnection, client: JiraClient) -> bool:
    done = status_category.transition_into(client.get_transitions(key), status_category.DONE)
    if done is None:
        return False
    _record(connection, key, "transition")
    client.transition_issue(key, str(done["id"]))
    return True
