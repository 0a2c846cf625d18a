"""A worker's claim on a link is fresh for JIRA_JOB_STALE_SECONDS: the button shows the push as under way
while it is, and offers the push again once it is not (the worker died; pushing again searches by label)."""

import datetime as dt

import pytest
from django.conf import settings

from allyproof.core import clock
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.ui import selectors
from allyproof.integrations.jira.models import JiraLink


@pytest.mark.parametrize(("age", "in_flight"), [
    (lambda stale: 0, True),  # just claimed
    (lambda stale: stale - 1, True),
    (lambda stale: stale + 1, False),  # its worker went silent
])
def test_the_button_follows_the_age_of_the_claim(acme, connected, age, in_flight):
    violation = acme.violations.get(rule_id="image-alt")
    now = clock.now()
    claimed_at = now - dt.timedelta(seconds=age(settings.CONFIG.jira_job_stale_seconds))
    key = push.dedupe_key(organization_id=connected.organization_id, cloud_id=connected.cloud_id, violation=violation)
    JiraLink.objects.create(organization=acme.organization, violation=violation, cloud_id=connected.cloud_id,
                            dedupe_key=key, project_key="ACME", created_at=now, claim="worker-1",
                            claimed_at=claimed_at, sent_at=claimed_at, outcome_unknown=True)
    with clock.frozen(now):
        button = selectors.violation_button(violation=violation)
    assert (button["link"] is not None) == in_flight
