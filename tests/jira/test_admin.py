"""Links, push jobs (with their items), outbound writes and inbound events are read-only in the admin,
even for a superuser: deleting a link would defeat the dedupe, editing the others rewrites history."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from allyproof.core import clock
from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import InboundEvent, JiraLink, OutboundWrite, PushJob, PushJobItem
from tests.jira.conftest import NoGate

READ_ONLY = [JiraLink, PushJob, OutboundWrite, InboundEvent]


@pytest.fixture
def records(acme, connected, sandbox):
    """One of each: a link and its outbound write from a real push, a job with an item, an event."""
    violation = acme.violations.get(rule_id="image-alt")
    push.violation_push(violation=violation, connection=connected, client=client_for(connected, gate=NoGate()),
                        violation_url=push.absolute_violation_url(violation))
    jobs.push_job_create(site=acme, violations=[acme.violations.get(rule_id="region")], kind=PushJob.Kind.BULK,
                         project_key="ACME", enqueue=None)
    InboundEvent.objects.create(connection=connected, identifier="delivery-1", event="jira:issue_updated",
                                issue_key="ACME-1", dedupe_key="jira:issue_updated:10000:1", received_at=clock.now(),
                                outcome=InboundEvent.Outcome.APPLIED)
    return {model: model.objects.get() for model in READ_ONLY}


@pytest.fixture
def superuser_client(db):
    user = get_user_model().objects.create_superuser("root@allyproof.test", "pw-1234567")
    client = Client()  # its own: the `connected` fixture signs the default client in as an org admin
    client.force_login(user)
    return client


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_a_superuser_can_look_but_not_add_change_or_delete(superuser_client, records, model):
    obj = records[model]
    before = model.objects.count()
    listing = superuser_client.get(admin_url(model, "changelist"))
    assert listing.status_code == 200
    assert 'name="action"' not in listing.content.decode()  # no bulk actions, "delete selected" included
    assert admin_url(model, "add") not in listing.content.decode()  # no "Add" button, nor in the sidebar

    form = superuser_client.get(admin_url(model, "change", obj.pk))
    assert form.status_code == 200
    body = form.content.decode()
    assert 'name="_save"' not in body and 'name="_continue"' not in body and 'name="_addanother"' not in body
    assert admin_url(model, "delete", obj.pk) not in body

    assert superuser_client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
    assert superuser_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert superuser_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert superuser_client.get(admin_url(model, "add")).status_code == 403
    bulk = superuser_client.post(admin_url(model, "changelist"),
                                 {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)  # Django answers "no action selected"
    assert model.objects.count() == before and model.objects.filter(pk=obj.pk).exists()


def test_a_jobs_items_are_shown_read_only_with_it(superuser_client, records):
    job = records[PushJob]
    body = superuser_client.get(admin_url(PushJob, "change", job.pk)).content.decode()
    item = PushJobItem.objects.get(job=job)
    assert "Waiting" in body and str(item.violation) in body  # the item is on the job's page
    assert 'name="items-0-status"' not in body and "items-0-DELETE" not in body  # nothing to edit or delete
    assert 'name="items-MAX_NUM_FORMS" value="0"' in body  # no row can be added
