"""Every page × {anonymous, member of another organization, member, admin, owner}."""

import pytest
from django.urls import reverse

from allyproof.monitoring.models import Site, Violation
from tests import factories

ROLES = ["anonymous", "outsider", "member", "admin", "owner"]


@pytest.fixture
def world(org, site, other_org):
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    people = {
        "owner": org.memberships.get(role="owner").user,
        "admin": factories.member(org, "admin@demo-agency.test", "admin"),
        "member": factories.member(org, "member@demo-agency.test", "member"),
        "outsider": other_org.memberships.get(role="owner").user,
    }
    return {"site": site, "violation": site.violations.get(rule_id="image-alt"), "people": people}


def client_for(client, world, role):
    if role != "anonymous":
        client.force_login(world["people"][role])
    return client


def urls(world):
    site, violation = world["site"], world["violation"]
    return {
        "sites": reverse("sites"),
        "site": reverse("site_detail", args=[site.pk]),
        "violation": reverse("violation_detail", args=[site.pk, violation.pk]),
        "scans": reverse("scans"),
        "scans_of_site": reverse("scans") + f"?site={site.pk}",
    }


# What each role gets on each read page: 200 with the data, 404 (never the data), or a login redirect.
READ_EXPECTATIONS = {
    "anonymous": {"sites": 302, "site": 302, "violation": 302, "scans": 302, "scans_of_site": 302},
    "outsider": {"sites": 200, "site": 404, "violation": 404, "scans": 200, "scans_of_site": 404},
    "member": {"sites": 200, "site": 200, "violation": 200, "scans": 200, "scans_of_site": 200},
    "admin": {"sites": 200, "site": 200, "violation": 200, "scans": 200, "scans_of_site": 200},
    "owner": {"sites": 200, "site": 200, "violation": 200, "scans": 200, "scans_of_site": 200},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["sites", "site", "violation", "scans", "scans_of_site"])
def test_read_pages(client, world, role, page):
    response = client_for(client, world, role).get(urls(world)[page])
    expected = READ_EXPECTATIONS[role][page]
    assert response.status_code == expected
    body = response.content.decode()
    if expected == 302:
        assert response["Location"].startswith(reverse("login"))
    if role == "outsider":
        assert "ACME Dental" not in body and "image-alt" not in body
    if expected == 200 and role != "outsider" and page in ("sites", "site", "scans"):
        assert "ACME Dental" in body


@pytest.mark.parametrize("role", ROLES)
def test_add_site_is_for_admins(client, world, role):
    client = client_for(client, world, role)
    response = client.post(reverse("site_create"), {"name": "New Client", "base_url": "https://new.example/"})
    created = Site.objects.filter(name="New Client").first()
    if role in ("admin", "owner"):
        assert response.status_code == 302 and created.organization == world["site"].organization
    elif role == "outsider":  # an owner elsewhere adds the site to their own organization, not to this one
        assert response.status_code == 302 and created.organization != world["site"].organization
    else:
        assert response.status_code in (302, 403) and created is None
        if role == "anonymous":
            assert response["Location"].startswith(reverse("login"))


def test_duplicate_site_url_is_a_form_error(client, world):
    client.force_login(world["people"]["admin"])
    response = client.post(reverse("site_create"), {"name": "Dup", "base_url": world["site"].base_url})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_mark_resolved(client, world, role):
    site, violation = world["site"], world["violation"]
    url = reverse("violation_status", args=[site.pk, violation.pk])
    response = client_for(client, world, role).post(url, {"action": "resolve"})
    violation.refresh_from_db()
    if role in ("member", "admin", "owner"):
        assert response.status_code == 302
        assert violation.status == Violation.Status.RESOLVED
        assert violation.resolved_by == world["people"][role]
    else:
        assert response.status_code == (404 if role == "outsider" else 302)
        assert violation.status == Violation.Status.OPEN


def test_violation_under_the_wrong_site_is_404(client, world, org):
    other_site = factories.site(org, "BetaCorp", "https://betacorp.example/")
    client.force_login(world["people"]["owner"])
    response = client.get(reverse("violation_detail", args=[other_site.pk, world["violation"].pk]))
    assert response.status_code == 404


def test_site_page_sorts_by_impact_both_ways(client, world):
    client.force_login(world["people"]["member"])
    rank = {"critical": 4, "serious": 3, "moderate": 2, "minor": 1}
    for sort, reverse_ in (("impact", True), ("-impact", False)):
        response = client.get(reverse("site_detail", args=[world["site"].pk]), {"sort": sort})
        impacts = [v.impact for v in response.context["violations"]]
        assert impacts == sorted(impacts, key=rank.get, reverse=reverse_)
        assert len(impacts) == world["site"].violations.count()


def test_violation_page_shows_samples_and_pages(client, world):
    client.force_login(world["people"]["member"])
    body = client.get(urls(world)["violation"]).content.decode()
    violation = world["violation"]
    assert violation.help in body
    assert violation.pages[0] in body
    assert "&lt;img" in body  # the sample's HTML is shown escaped, as code


def test_switching_organization(client, world, other_org):
    person = world["people"]["member"]
    factories.member(other_org, person.email, "member")
    client.force_login(person)
    assert client.get(reverse("sites")).context["organization"] == world["site"].organization
    response = client.post(reverse("organization_switch"), {"organization": other_org.pk, "next": "/sites/"})
    assert response.status_code == 302 and response["Location"] == "/sites/"
    assert client.get(reverse("sites")).context["organization"] == other_org


def test_switching_to_a_foreign_organization_is_404(client, world, other_org):
    client.force_login(world["people"]["member"])
    response = client.post(reverse("organization_switch"), {"organization": other_org.pk})
    assert response.status_code == 404
    assert client.get(reverse("sites")).context["organization"] == world["site"].organization


def test_switch_ignores_offsite_next(client, world):
    client.force_login(world["people"]["member"])
    org_id = world["site"].organization_id
    response = client.post(reverse("organization_switch"), {"organization": org_id, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_person_without_organization_is_told_so(client, db):
    client.force_login(factories.user("lonely@nowhere.test"))
    response = client.get(reverse("sites"))
    assert response.status_code == 403
    assert "don't belong to an organization" in response.content.decode()


def test_a_sample_target_reads_as_one_line_through_frames_and_shadow_dom(client, world):
    """The demo's chat launcher lives in shadow DOM: its target once showed as "['acme-chat-launcher', '.launcher']"."""
    violation = world["violation"]
    violation.samples = [{"target": [["acme-chat-launcher", ".launcher"]], "html": "<button>", "failure_summary": ""},
                         {"target": ["#checkout-frame", "img.logo"], "html": "<img>", "failure_summary": ""}]
    violation.save(update_fields=["samples"])
    client.force_login(world["people"]["member"])
    body = client.get(urls(world)["violation"]).content.decode()
    assert "<code>acme-chat-launcher &gt;&gt; .launcher</code>" in body
    assert "<code>#checkout-frame &gt;&gt;&gt; img.logo</code>" in body
    assert "[&#x27;" not in body
