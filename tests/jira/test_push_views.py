"""The push and rules endpoints as people (and stale tabs, and forged posts) use them."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from allyproof.integrations.jira.models import JiraLink, PushJob, SiteSyncRule
from tests import factories


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def rules_post(site, **fields):
    data = {"site": [str(site.pk)], f"site-{site.pk}-project": fields.get("project", "ACME"),
            f"site-{site.pk}-severities": fields.get("severities", ["critical", "serious"]),
            f"site-{site.pk}-issue_type": fields.get("issue_type", "")}
    if fields.get("enabled", True):
        data[f"site-{site.pk}-enabled"] = "on"
    if fields.get("auto_push"):
        data[f"site-{site.pk}-auto_push"] = "on"
    return data


def test_admin_saves_rules_and_the_webhook_follows(client, connected, site, sandbox):
    response = client.post(reverse("jira_rules_save"), rules_post(site))
    assert response.status_code == 302 and messages_of(response)[-1] == "Sync rules saved."
    rule = SiteSyncRule.objects.get(site=site)
    assert (rule.enabled, rule.project_key, rule.severities) == (True, "ACME", ["critical", "serious"])
    assert (rule.issue_type_id, rule.issue_type_name) == ("10004", "Bug")
    connected.refresh_from_db()
    assert connected.webhook_jql == "project IN (ACME)" and connected.webhook_ids


def test_default_issue_type_falls_back_to_task_without_bug(client, connected, site, sandbox):
    client.post(reverse("jira_rules_save"), rules_post(site, project="BETA"))
    assert SiteSyncRule.objects.get(site=site).issue_type_name == "Task"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"project": ""}, "An enabled site needs a Jira project key."),
        ({"project": "acme"}, "&#x27;acme&#x27; is not a Jira project key"),
        ({"project": "NOPE"}, "There is no project NOPE in Demo Agency (keys are case-sensitive)"),
        ({"project": "ACME", "issue_type": "Epic"}, "ACME has no issue type &#x27;Epic&#x27; (it has Bug, Task, Story)"),
        ({"project": "ACME", "severities": ["urgent"]}, "Unknown severity."),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_saved(client, connected, site, sandbox, fields, error):
    response = client.post(reverse("jira_rules_save"), rules_post(site, **fields))
    assert response.status_code == 400
    body = response.content.decode()
    assert error in body and "Nothing was saved" in body
    assert not SiteSyncRule.objects.filter(site=site, enabled=True).exists()


def test_required_field_without_default_is_reported_before_any_push(client, connected, site, sandbox):
    sandbox.set_required_field(None, "ACME", "Bug", "customfield_10050", "Customer", has_default=False)
    response = client.post(reverse("jira_rules_save"), rules_post(site))
    assert "Jira requires Customer (customfield_10050) for Bug in ACME" in response.content.decode()


def test_foreign_site_in_the_rules_form_is_refused(client, connected, site, sandbox, other_org):
    foreign = factories.site(other_org, "Foreign", "https://foreign.example/")
    response = client.post(reverse("jira_rules_save"), rules_post(foreign))
    assert response.status_code == 400
    assert not SiteSyncRule.objects.filter(site=foreign).exists()


def test_member_cannot_save_rules(client, connected, site, member_user):
    client.force_login(member_user)
    assert client.post(reverse("jira_rules_save"), rules_post(site)).status_code == 403
    assert not SiteSyncRule.objects.filter(site=site, enabled=True).exists()


def test_auto_push_since_is_stamped_on_and_cleared_off(client, connected, site, sandbox):
    client.post(reverse("jira_rules_save"), rules_post(site, auto_push=True))
    since = SiteSyncRule.objects.get(site=site).auto_push_since
    assert since is not None
    client.post(reverse("jira_rules_save"), rules_post(site, auto_push=True))
    assert SiteSyncRule.objects.get(site=site).auto_push_since == since  # unchanged while on
    client.post(reverse("jira_rules_save"), rules_post(site, auto_push=False))
    assert SiteSyncRule.objects.get(site=site).auto_push_since is None
    client.post(reverse("jira_rules_save"), rules_post(site, auto_push=True))
    assert SiteSyncRule.objects.get(site=site).auto_push_since > since  # a fresh cutoff


@pytest.mark.django_db(transaction=True)
def test_member_pushes_one_violation_from_its_page(client, acme, member_user, sandbox, huey_immediate):
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    response = client.post(reverse("jira_violation_push", args=[acme.pk, violation.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "In Jira:" in response.content.decode() and "ACME-1" in response.content.decode()
    page = client.get(reverse("violation_detail", args=[acme.pk, violation.pk])).content.decode()
    assert "ACME-1" in page and "Push to Jira</button>" not in page


def test_push_refused_by_a_gate_says_why(client, acme, member_user, sandbox, rules_for):
    rules_for(acme, enabled=False)
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    response = client.post(reverse("jira_violation_push", args=[acme.pk, violation.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "This site is excluded from Jira sync." in response.content.decode()
    assert not sandbox.issues(None)


def test_slow_jira_hands_over_to_a_background_job(client, acme, member_user, sandbox, budget):
    budget(0)  # the worker (none runs here) has not finished within the budget
    violation = acme.violations.get(rule_id="image-alt")
    client.force_login(member_user)
    response = client.post(reverse("jira_violation_push", args=[acme.pk, violation.pk]), HTTP_HX_REQUEST="true")
    assert ">Pushing…</button>" in response.content.decode()
    job = PushJob.objects.get(kind="single")
    assert list(job.items.values_list("violation", flat=True)) == [violation.pk]


def test_bulk_push_creates_a_job_of_every_pushable_violation(client, acme, member_user, sandbox, rules_for):
    rules_for(acme, severities=("critical",))
    client.force_login(member_user)
    response = client.post(reverse("jira_site_push", args=[acme.pk]), {"mode": "all"})
    job = PushJob.objects.get()
    assert job.kind == "bulk" and job.project_key == "ACME"
    expected = set(acme.violations.filter(impact="critical").values_list("pk", flat=True))
    assert set(job.items.values_list("violation", flat=True)) == expected
    assert messages_of(response)[-1] == f"Pushing {len(expected)} violations to ACME in the background."


def test_stale_picker_and_foreign_ids_are_revalidated(client, acme, member_user, sandbox, rules_for, other_org):
    critical = list(acme.violations.filter(impact="critical").order_by("pk"))
    minor = acme.violations.filter(impact="minor").first()
    foreign_site = factories.site(other_org, "Foreign", "https://foreign.example/")
    factories.ingest(foreign_site, factories.axe_fixture("single_page__home.json"))
    foreign = foreign_site.violations.first()
    rules_for(acme, severities=("critical",))  # tightened after the tab listed the minor one
    JiraLink.objects.create(organization=acme.organization, violation=critical[0], cloud_id="3f0c9a52-7d1e-4b8a-9c2f-5e6d7a8b9c01",
                            dedupe_key="x" * 64, status="linked", project_key="ACME", issue_key="ACME-9",
                            created_at=critical[0].first_detected_at)
    picked = [critical[0].pk, critical[1].pk, minor.pk, foreign.pk, 999999]
    client.force_login(member_user)
    response = client.post(reverse("jira_site_push", args=[acme.pk]),
                           {"mode": "picked", "violation": [str(i) for i in picked] + ["junk"]})
    job = PushJob.objects.get()
    assert job.kind == "picked"
    assert list(job.items.values_list("violation", flat=True)) == [critical[1].pk]
    assert messages_of(response)[-1].startswith("Skipped 4 chosen violations")


def test_bulk_push_on_a_site_of_another_organization_is_404(client, acme, other_org, sandbox):
    client.force_login(other_org.memberships.get().user)
    assert client.post(reverse("jira_site_push", args=[acme.pk]), {"mode": "all"}).status_code == 404
    violation = acme.violations.first()
    assert client.post(reverse("jira_violation_push", args=[acme.pk, violation.pk])).status_code == 404
    assert not PushJob.objects.exists() and not sandbox.issues(None)


def test_anonymous_cannot_push(client, acme, sandbox):
    client.logout()
    response = client.post(reverse("jira_site_push", args=[acme.pk]), {"mode": "all"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not PushJob.objects.exists()


def test_site_block_states(client, acme, member_user, sandbox, rules_for):
    client.force_login(member_user)
    block = client.get(reverse("jira_site_block", args=[acme.pk])).content.decode()
    n = acme.violations.count()
    assert f"{n} violations ready to push to ACME." in block and f"Push {n} to ACME" in block
    assert "Choose violations" in block
    rules_for(acme, enabled=False)
    block = client.get(reverse("jira_site_block", args=[acme.pk])).content.decode()
    assert "This site is excluded from Jira sync." in block and "Push" not in block


def test_watching_a_finished_job_says_what_happened_in_place(client, acme, member_user, sandbox):
    from allyproof.integrations.jira.outbound import jobs

    violations = list(acme.violations.order_by("pk")[:3])
    job = jobs.push_job_create(site=acme, violations=violations, kind="bulk", project_key="ACME", enqueue=None)
    client.force_login(member_user)
    running = client.get(reverse("jira_site_block", args=[acme.pk]), {"watch": job.pk})
    assert running.status_code == 200 and "Pushing to ACME: 0 of 3 done" in running.content.decode()
    PushJob.objects.filter(pk=job.pk).update(status="completed")
    job.items.filter(violation=violations[0]).update(status="pushed", issue_key="ACME-1")
    job.items.filter(violation=violations[1]).update(status="pushed", issue_key="ACME-2")
    job.items.filter(violation=violations[2]).update(status="failed", reason="Jira refused")
    done = client.get(reverse("jira_site_block", args=[acme.pk]), {"watch": job.pk})
    body = done.content.decode()
    assert done.status_code == 200 and "HX-Refresh" not in done
    assert '<p class="message success" data-announce tabindex="-1">Pushed 2 to ACME, 1 failed.</p>' in body
    assert 'data-refresh-regions="#violations-section"' in body


@pytest.mark.django_db(transaction=True)
def test_an_abandoned_attempt_offers_the_button_again_and_recovers_by_label(client, acme, member_user, sandbox,
                                                                             huey_immediate):
    """A web process that died mid-create a minute ago leaves a reservation and maybe an issue: pushing
    again finds it. (Had it died this instant, the first label search would be due a few seconds later,
    JIRA_FIRST_LOOK_SECONDS, and the button would say "Checking Jira…" until then.)"""
    import datetime as dt

    from allyproof.core import clock
    from allyproof.integrations.jira.outbound import push

    violation = acme.violations.get(rule_id="image-alt")
    connection = acme.organization.jira_connections.get()
    key = push.dedupe_key(organization_id=connection.organization_id, cloud_id=connection.cloud_id, violation=violation)
    link = JiraLink.objects.create(organization=acme.organization, violation=violation, cloud_id=connection.cloud_id,
                                   dedupe_key=key, project_key="ACME", created_at=clock.now() - dt.timedelta(minutes=1),
                                   outcome_unknown=True)
    sandbox.create_issue(None, "ACME", "created before the crash", "Bug", labels=[link.label])
    client.force_login(member_user)
    page = client.get(reverse("violation_detail", args=[acme.pk, violation.pk])).content.decode()
    assert "Push to Jira</button>" in page and "Pushing…" not in page
    response = client.post(reverse("jira_violation_push", args=[acme.pk, violation.pk]), HTTP_HX_REQUEST="true")
    assert "ACME-1" in response.content.decode()
    assert len(sandbox.issues(None)) == 1


def test_right_after_an_import_with_auto_push_the_block_says_a_push_is_starting(client, acme, member_user, sandbox):
    """Issue 12, case 6: the auto-push job is created by the worker after the scan; until then the block
    says a push is starting (and polls) instead of a silent "N ready"."""
    from allyproof.core import clock
    from allyproof.integrations.jira.outbound import jobs
    from allyproof.integrations.jira.models import SiteSyncRule
    from tests import factories

    SiteSyncRule.objects.filter(site=acme).update(auto_push=True, auto_push_since=clock.now())
    scan = factories.ingest(acme, factories.axe_fixture("multi_page__rescan.json"))
    client.force_login(member_user)
    url = reverse("jira_site_block", args=[acme.pk])
    body = client.get(url).content.decode()
    assert scan.new_violations > 0
    assert f"Auto-push is starting for the {scan.new_violations} new violation" in body
    assert 'hx-trigger="every 2s"' in body
    new = list(acme.violations.filter(first_scan=scan))
    jobs.push_job_create(site=acme, violations=new, kind="auto",
                         project_key="ACME", enqueue=None)
    after = client.get(url).content.decode()
    assert "Auto-push is starting" not in after and "Pushing to ACME: 0 of" in after
