"""The push endpoints where the page and the server must agree on what a person chose."""

from django.contrib.messages import get_messages
from django.urls import reverse

from allyproof.integrations.jira.models import PushJob


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_form_carrying_the_checklist_pushes_only_the_ticked_rows_whichever_button_sent_it(
        client, acme, member_user, sandbox):
    ticked = list(acme.violations.order_by("pk").values_list("pk", flat=True)[:2])
    client.force_login(member_user)
    # The collapsed "Push N to ACME" button (mode=all) pressed while the checklist was in the form.
    response = client.post(reverse("jira_site_push", args=[acme.pk]),
                           {"mode": "all", "picker": "1", "violation": [str(pk) for pk in ticked]})
    assert response.status_code == 302
    job = PushJob.objects.get()
    assert job.kind == PushJob.Kind.PICKED
    assert sorted(job.items.values_list("violation", flat=True)) == ticked
    assert messages_of(response)[-1] == "Pushing 2 violations to ACME in the background."


def test_a_checklist_with_nothing_ticked_pushes_nothing(client, acme, member_user, sandbox):
    client.force_login(member_user)
    response = client.post(reverse("jira_site_push", args=[acme.pk]), {"mode": "all", "picker": "1"})
    assert not PushJob.objects.exists()
    assert messages_of(response)[-1] == "Nothing to push."


def test_the_collapsed_button_without_the_checklist_still_pushes_everything(client, acme, member_user, sandbox):
    client.force_login(member_user)
    client.post(reverse("jira_site_push", args=[acme.pk]), {"mode": "all"})
    job = PushJob.objects.get()
    assert job.kind == PushJob.Kind.BULK and job.items.count() == acme.violations.count()
