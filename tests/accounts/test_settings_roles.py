"""Settings × roles: every members, API-token and settings action for anonymous, another
organization's admin, a member, an admin and an owner. Another organization's objects answer 404
(never their data); a member gets 403 and nothing changes."""

from __future__ import annotations

import pytest
from django.test import Client

from allyproof.accounts.models import ApiToken, Membership, Organization
from allyproof.accounts.services import api_token_create
from tests import factories

ACTORS = ("anonymous", "other_org", "member", "admin", "owner")


@pytest.fixture
def world(org, other_org, owner, admin_user, member_user):
    token, _ = api_token_create(organization=org, name="Nightly CI")
    target = Membership.objects.get(organization=org, user=member_user)
    factories.member(other_org, "boss@other.test", "admin")
    return {"org": org, "token": token, "target": target,
            "users": {"other_org": factories.user("boss@other.test"), "member": member_user,
                      "admin": admin_user, "owner": owner}}


def client_for(world, actor) -> Client:
    client = Client()
    if actor != "anonymous":
        client.force_login(world["users"][actor])
    return client


# (name, method, url(world), data(world)) — the action each actor tries.
ACTIONS = {
    "members page": ("get", lambda w: "/settings/members/", None),
    "invite": ("post", lambda w: "/settings/members/invite/", lambda w: {"email": "new@demo-agency.test", "role": "member"}),
    "change role": ("post", lambda w: f"/settings/members/{w['target'].pk}/role/", lambda w: {"role": "admin"}),
    "remove member": ("post", lambda w: f"/settings/members/{w['target'].pk}/remove/", lambda w: {}),
    "tokens page": ("get", lambda w: "/settings/tokens/", None),
    "create token": ("post", lambda w: "/settings/tokens/", lambda w: {"name": "Deploy bot"}),
    "revoke token": ("post", lambda w: f"/settings/tokens/{w['token'].pk}/revoke/", lambda w: {}),
    "organization page": ("get", lambda w: "/settings/organization/", None),
    "save organization": ("post", lambda w: "/settings/organization/", lambda w: {"name": "Renamed", "time_zone": "Europe/Paris"}),
}

# What each actor gets: "login" (redirect to sign in), 404, 403, or "ok" (2xx or the redirect after a save).
# Another organization's admin reaches their own list pages (their data, checked below) and their own
# creates (into their own organization), and 404 on this organization's rows.
EXPECTED = {
    "anonymous": {name: "login" for name in ACTIONS},
    "other_org": {"members page": "ok", "invite": "ok", "change role": 404, "remove member": 404,
                  "tokens page": "ok", "create token": "ok", "revoke token": 404,
                  "organization page": "ok", "save organization": "ok"},
    "member": {name: 403 for name in ACTIONS},
    "admin": {name: "ok" for name in ACTIONS},
    "owner": {name: "ok" for name in ACTIONS},
}


def state(world) -> dict:
    org = Organization.objects.get(pk=world["org"].pk)
    return {
        "members": sorted(Membership.objects.filter(organization=org).values_list("user__email", "role")),
        "tokens": sorted(ApiToken.objects.filter(organization=org).values_list("name", "revoked_at")),
        "org": (org.name, org.time_zone),
    }


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_matrix(world, actor, action):
    method, url, data = ACTIONS[action]
    before = state(world)
    client = client_for(world, actor)
    response = getattr(client, method)(url(world), data(world) if data else None)
    expected = EXPECTED[actor][action]
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    elif expected == "ok":
        assert response.status_code in (200, 201, 302), response.content[:300]
    else:
        assert response.status_code == expected
    after = state(world)
    if expected != "ok" or actor == "other_org":
        # Refused, or done in the actor's own organization: this organization is unchanged.
        assert after == before
    elif method == "post":
        assert after != before


@pytest.mark.parametrize("page", ["/settings/members/", "/settings/tokens/", "/settings/organization/"])
def test_another_organization_sees_its_own_settings_not_ours(world, page):
    body = client_for(world, "other_org").get(page).content.decode()
    assert "Other Agency" in body
    for ours in ("member@demo-agency.test", "Nightly CI", "Demo Agency"):
        assert ours not in body


@pytest.mark.parametrize("actor", ACTORS)
def test_support_page_by_role(world, actor):
    response = client_for(world, actor).get("/settings/support/")
    if actor == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    body = response.content.decode()
    has_diagnostics = 'id="diagnostics"' in body
    assert has_diagnostics == (actor in ("admin", "owner", "other_org"))  # other_org: admin of its own
    if actor == "other_org":
        assert "Demo Agency" not in body


@pytest.mark.parametrize("actor", ("member", "admin", "owner"))
def test_settings_link_and_sections_by_role(world, actor):
    response = client_for(world, actor).get("/settings/", follow=True)
    assert response.redirect_chain[-1][0] == "/settings/integrations/"
    body = response.content.decode()
    assert ('href="/settings/members/"' in body) == (actor != "member")
    assert 'href="/settings/support/"' in body
