"""Abandoned OAuth handshakes: a "choose a site" step nobody finished holds a live grant's tokens.

After HANDSHAKE_LIFETIME the row goes, tokens and all (connect_start does the same when an admin starts
again); expired consent states go with them. Pure timing: `now` is passed in.
"""

from __future__ import annotations

import datetime as dt
import logging

from allyproof.integrations.jira.models import JiraConnection, OAuthState

HANDSHAKE_LIFETIME = dt.timedelta(minutes=10)
log = logging.getLogger(__name__)


def abandoned_handshakes_wipe(*, now: dt.datetime) -> int:
    """Deletes site choices older than HANDSHAKE_LIFETIME and expired consent states; returns how many choices."""
    stale = JiraConnection.objects.filter(
        status=JiraConnection.Status.CHOOSING_SITE, connected_at__lt=now - HANDSHAKE_LIFETIME
    )
    ids = list(stale.values_list("pk", flat=True))
    if ids:
        JiraConnection.objects.filter(pk__in=ids, status=JiraConnection.Status.CHOOSING_SITE).delete()
        log.info("jira.handshake.abandoned_wiped connections=%s", ",".join(map(str, ids)))
    OAuthState.objects.filter(expires_at__lt=now).delete()
    return len(ids)
