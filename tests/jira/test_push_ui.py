"""The push endpoints where the page and the server must agree on what a person chose."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from allyproof.integrations.jira.outbound import jobs
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.outbound import single_push
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraLink, PushJob, PushJobItem


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


# --- the violation page's Push to Jira: the worker pushes, the request waits up to a budget ----------------


def run_worker(job):
    return jobs.push_job_run(job_id=job.pk, client_for=client_for, violation_url=push.absolute_violation_url,
                             sleep=lambda seconds: None)


def push_post(client, violation, **headers):
    return client.post(reverse("jira_violation_push", args=[violation.site_id, violation.pk]), **headers)


def test_a_push_jira_has_not_answered_within_the_budget_says_pushing_and_polls_for_the_key(
        client, acme, member_user, sandbox, budget):
    budget(0)  # the worker has not finished by the time the budget ends (here: no worker runs yet)
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    response = push_post(client, violation, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    job = PushJob.objects.get(kind=PushJob.Kind.SINGLE)
    assert ">Pushing…</button>" in body and 'aria-disabled="true"' in body
    assert f"jira/?watch={job.pk}" in body and 'hx-trigger="every 1s"' in body
    assert not sandbox.issues(None)  # the request itself never called Jira
    assert list(job.items.values_list("violation", flat=True)) == [violation.pk]

    poll = reverse("jira_violation_button", args=[acme.pk, violation.pk])
    still = client.get(poll, {"watch": job.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert ">Pushing…</button>" in still and "Created" not in still

    run_worker(job)
    done = client.get(poll, {"watch": job.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "In Jira:" in done and ">ACME-1</a>" in done and "Created ACME-1." in done
    assert "Pushing…" not in done and "hx-trigger" not in done  # polling stops
    assert [issue["key"] for issue in sandbox.issues(None)] == ["ACME-1"]


def test_a_second_click_while_pushing_joins_the_same_job(client, acme, member_user, sandbox, budget):
    budget(0)
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    push_post(client, violation, HTTP_HX_REQUEST="true")
    push_post(client, violation, HTTP_HX_REQUEST="true")
    job = PushJob.objects.get()
    run_worker(job)
    assert len(sandbox.issues(None)) == 1


def test_without_javascript_a_slow_push_says_it_goes_on_in_the_background(client, acme, member_user, sandbox, budget):
    budget(0)
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    response = push_post(client, violation)
    assert response.status_code == 302
    assert messages_of(response)[-1] == "Jira is slow to answer right now; the push continues in the background."
    page = client.get(response["Location"]).content.decode()
    assert ">Pushing…</button>" in page


@pytest.mark.django_db(transaction=True)
def test_a_prompt_worker_answers_in_the_request(client, acme, member_user, sandbox, budget, huey_immediate):
    budget(2000)
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    response = push_post(client, violation, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "In Jira:" in body and ">ACME-1</a>" in body and "Created ACME-1." in body and "Pushing…" not in body
    assert PushJob.objects.get().status == PushJob.Status.COMPLETED  # through the real Huey task
    assert JiraLink.objects.get(violation=violation).issue_key == "ACME-1"
    again = push_post(client, violation, HTTP_HX_REQUEST="true").content.decode()
    assert "Already in Jira as ACME-1." in again
    assert PushJob.objects.count() == 1 and len(sandbox.issues(None)) == 1  # a re-push calls nobody


def test_the_request_waits_for_a_worker_that_finishes_within_the_budget(acme, sandbox):
    violation = acme.violations.get(rule_id="image-alt")
    job = jobs.push_job_create(site=acme, violations=[violation], kind=PushJob.Kind.SINGLE, project_key="ACME",
                               enqueue=None)
    looks = []

    def worker_finishes_while_we_wait(seconds):
        looks.append(seconds)
        if len(looks) == 3:
            run_worker(job)

    item = single_push.single_push_wait(job=job, violation=violation, budget=2.0, sleep=worker_finishes_while_we_wait)
    assert item.status == PushJobItem.Status.PUSHED and len(looks) == 3
    assert single_push.outcome(item).text == f"Created {item.issue_key}."


def test_a_sleep_that_lets_no_time_pass_still_ends_the_wait_after_the_budget_in_steps(acme, sandbox):
    violation = acme.violations.get(rule_id="image-alt")
    job = jobs.push_job_create(site=acme, violations=[violation], kind=PushJob.Kind.SINGLE, project_key="ACME",
                               enqueue=None)
    slept = []
    assert single_push.single_push_wait(job=job, violation=violation, budget=0.5, sleep=slept.append,
                                        elapsed=lambda: 0.0) is None
    assert slept == [single_push.POLL_STEP] * round(0.5 / single_push.POLL_STEP)


def test_the_time_spent_looking_counts_against_the_budget_not_only_the_sleeps(acme, sandbox):
    """Each look at the rows takes time: the wait ends when the budget has passed on the clock, and its
    last sleep is cut to what is left, so the person is answered within the budget (plus one look)."""
    violation = acme.violations.get(rule_id="image-alt")
    job = jobs.push_job_create(site=acme, violations=[violation], kind=PushJob.Kind.SINGLE, project_key="ACME",
                               enqueue=None)
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds + 0.03  # every step also spends 30 ms reading the rows

    assert single_push.single_push_wait(job=job, violation=violation, budget=0.5, sleep=sleep,
                                        elapsed=lambda: now[0]) is None
    assert slept == [0.05] * 6 + [0.02]  # 6 × 80 ms = 0.48 s, then the 20 ms left
    assert now[0] == pytest.approx(0.53, abs=1e-9)


def test_a_gate_that_says_no_at_push_time_is_shown_in_place(client, acme, member_user, sandbox, budget, rules_for):
    budget(0)
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    push_post(client, violation, HTTP_HX_REQUEST="true")
    rules_for(acme, enabled=False)  # tightened while the job was queued
    job = PushJob.objects.get()
    run_worker(job)
    done = client.get(reverse("jira_violation_button", args=[acme.pk, violation.pk]), {"watch": job.pk},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "This site is excluded from Jira sync." in done and "Pushing…" not in done
    assert not sandbox.issues(None)


def test_a_push_refused_before_queueing_queues_nothing(client, acme, member_user, sandbox, rules_for):
    rules_for(acme, severities=("critical",))
    violation = acme.violations.filter(impact="minor").first()
    client.force_login(member_user)
    response = push_post(client, violation, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "below this site&#x27;s threshold" in response.content.decode()
    assert not PushJob.objects.exists()
