"""Settings: what each change does and what each bad input gets."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from allyproof.accounts.models import ApiToken, Membership, Role, User
from allyproof.accounts.services import (
    SettingsRefused,
    api_token_authenticate,
    membership_remove,
    membership_role_change,
)
from tests import factories


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_inviting_a_new_person_gives_a_one_time_set_password_link(org, admin_user):
    client = signed_in(admin_user)
    response = client.post("/settings/members/invite/", {"email": "  New.Person@Demo-Agency.test ", "role": "member"})
    assert response.status_code == 200
    body = response.content.decode()
    link = re.search(r'value="(http://testserver/accounts/set-password/[^"]+)"', body).group(1)
    person = User.objects.get(email="new.person@demo-agency.test")
    assert not person.has_usable_password()
    assert Membership.objects.get(organization=org, user=person).role == Role.MEMBER

    newcomer = Client()
    page = newcomer.get(link, follow=True)
    assert b"Choose a password" in page.content
    form_url = page.redirect_chain[-1][0]
    done = newcomer.post(form_url, {"new_password1": "a long new passphrase 42", "new_password2": "a long new passphrase 42"})
    assert done.status_code == 302 and done["Location"] == "/sites/"
    assert newcomer.get("/sites/").status_code == 200  # signed in
    again = Client().get(link, follow=True)
    assert b"This link no longer works" in again.content


def test_inviting_someone_with_an_account_adds_them_without_a_link(org, other_org, admin_user):
    factories.member(other_org, "known@elsewhere.test")
    response = signed_in(admin_user).post("/settings/members/invite/", {"email": "known@elsewhere.test", "role": "admin"})
    assert response.status_code == 302
    assert Membership.objects.get(organization=org, user__email="known@elsewhere.test").role == Role.ADMIN


@pytest.mark.parametrize(("data", "error"), [
    ({"email": "not-an-email", "role": "member"}, "Enter a valid email address."),
    ({"email": "", "role": "member"}, "This field is required."),
    ({"email": "x@y.test", "role": "emperor"}, "Select a valid choice."),
    ({"email": "member@demo-agency.test", "role": "member"}, "is already a member of Demo Agency"),
])
def test_bad_invites_are_refused_next_to_the_field(org, admin_user, member_user, data, error):
    before = Membership.objects.count()
    response = signed_in(admin_user).post("/settings/members/invite/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert 'role="alert"' in response.content.decode() and "autofocus" in response.content.decode()
    assert Membership.objects.count() == before


def test_only_an_owner_can_make_an_owner(org, owner, admin_user, member_user):
    response = signed_in(admin_user).post("/settings/members/invite/", {"email": "boss@demo-agency.test", "role": "owner"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    target = Membership.objects.get(organization=org, user=member_user)
    response = signed_in(admin_user).post(f"/settings/members/{target.pk}/role/", {"role": "owner"})
    assert response.status_code == 400 and "Only an owner can make someone an owner." in response.content.decode()
    target.refresh_from_db()
    assert target.role == Role.MEMBER
    assert signed_in(owner).post(f"/settings/members/{target.pk}/role/", {"role": "owner"}).status_code == 302
    target.refresh_from_db()
    assert target.role == Role.OWNER


def test_an_admin_cannot_demote_or_remove_an_owner(org, owner, admin_user):
    mine = Membership.objects.get(organization=org, user=owner)
    client = signed_in(admin_user)
    assert client.post(f"/settings/members/{mine.pk}/role/", {"role": "member"}).status_code == 400
    assert client.post(f"/settings/members/{mine.pk}/remove/").status_code == 400
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_the_last_owner_can_be_neither_demoted_nor_removed(org, owner):
    mine = Membership.objects.get(organization=org, user=owner)
    client = signed_in(owner)
    response = client.post(f"/settings/members/{mine.pk}/role/", {"role": "admin"})
    assert response.status_code == 400
    assert "is the last owner of Demo Agency: make someone else an owner first." in response.content.decode()
    assert client.post(f"/settings/members/{mine.pk}/remove/").status_code == 400
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_with_two_owners_one_can_step_down(org, owner):
    second = factories.member(org, "second@demo-agency.test", "owner")
    mine = Membership.objects.get(organization=org, user=owner)
    membership_role_change(membership=mine, role="admin", by=mine)
    theirs = Membership.objects.get(organization=org, user=second)
    with pytest.raises(SettingsRefused, match="last owner"):
        membership_remove(membership=theirs, by=theirs)


def test_a_member_can_be_removed_and_loses_access(org, admin_user, member_user, site):
    target = Membership.objects.get(organization=org, user=member_user)
    assert signed_in(admin_user).post(f"/settings/members/{target.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert signed_in(member_user).get(f"/sites/{site.pk}/").status_code == 403  # no organization left


def test_a_token_is_shown_once_works_records_last_use_and_can_be_revoked(org, admin_user, site):
    client = signed_in(admin_user)
    response = client.post("/settings/tokens/", {"name": "CI uploads"})
    assert response.status_code == 201
    plaintext = re.search(r'id="new-token" class="copyable" value="(ap_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get(organization=org, name="CI uploads")
    assert plaintext not in client.get("/settings/tokens/").content.decode()  # never again
    assert token.token_hash not in response.content.decode()
    listing = client.get("/settings/tokens/").content.decode()
    assert "Never" in listing
    api = Client()
    assert api.get("/api/v1/sites", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/sites", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401
    assert api_token_authenticate(presented=plaintext) is None
    assert "Revoked" in client.get("/settings/tokens/").content.decode()


@pytest.mark.parametrize(("name", "error"), [("", "This field is required."), ("   ", "This field is required."),
                                             ("x" * 81, "at most 80 characters")])
def test_bad_token_names_are_refused(org, admin_user, name, error):
    response = signed_in(admin_user).post("/settings/tokens/", {"name": name})
    assert response.status_code == 400 and error in response.content.decode()
    assert not ApiToken.objects.filter(organization=org).exists()


def test_organization_name_and_time_zone(org, admin_user, site):
    client = signed_in(admin_user)
    response = client.post("/settings/organization/", {"name": "Demo Agency GmbH", "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.name, org.time_zone) == ("Demo Agency GmbH", "Europe/Berlin")
    factories.ingest(site, factories.axe_fixture("single_page__home.json"))
    page = client.get(f"/sites/{site.pk}/").content.decode()
    assert "Europe/Berlin" in page and " UTC" not in page


@pytest.mark.parametrize(("data", "error"), [
    ({"name": "Ok", "time_zone": "Mars/Olympus"}, "Mars/Olympus is not a time zone we know"),
    ({"name": "", "time_zone": "UTC"}, "This field is required."),
])
def test_bad_organization_settings_are_refused(org, admin_user, data, error):
    response = signed_in(admin_user).post("/settings/organization/", data)
    assert response.status_code == 400 and error in response.content.decode()
    org.refresh_from_db()
    assert (org.name, org.time_zone) == ("Demo Agency", "UTC")


def test_support_shows_the_configured_contact_and_diagnostics_without_secrets(org, admin_user, settings):
    settings.CONFIG = settings.CONFIG.replace(support="help@allyproof.example")
    body = signed_in(admin_user).get("/settings/support/").content.decode()
    assert 'href="mailto:help@allyproof.example"' in body
    assert "AllyProof diagnostics for Demo Agency" in body and "Not connected." in body
    settings.CONFIG = settings.CONFIG.replace(support="")
    assert "no support contact configured" in signed_in(admin_user).get("/settings/support/").content.decode()
