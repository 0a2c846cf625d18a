"""Management commands: organizations, members, API tokens, ingestion, the demo seed."""

import io

import pytest
from django.core.management import CommandError, call_command

from allyproof.accounts.models import ApiToken, Membership, Organization
from allyproof.accounts.services import api_token_authenticate
from allyproof.monitoring.models import Scan, Site, Violation
from tests import factories


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_org_member_and_token_commands():
    run("allyproof_org_create", "--name", "ACME Agency", "--owner-email", "o@acme.test", "--owner-password", "pw-1234567")
    org = Organization.objects.get(name="ACME Agency")
    run("allyproof_member_add", "--org", org.slug, "--email", "m@acme.test", "--password", "pw-1234567")
    assert Membership.objects.get(user__email="m@acme.test").role == "member"
    run("allyproof_member_add", "--org", org.slug, "--email", "m@acme.test", "--role", "admin")
    assert Membership.objects.get(user__email="m@acme.test").role == "admin"
    output = run("allyproof_api_token", "--org", org.slug, "--name", "CI")
    plaintext = output.strip().splitlines()[-1]
    assert api_token_authenticate(presented=plaintext).organization == org
    assert plaintext not in str(ApiToken.objects.values_list())  # only the hash is stored
    prefix = ApiToken.objects.get().prefix
    run("allyproof_api_token", "--org", org.slug, "--revoke", prefix)
    assert api_token_authenticate(presented=plaintext) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["allyproof_org_create", "--name", "X", "--owner-email", "new@x.test"], "pass --owner-password"),
        (["allyproof_member_add", "--org", "nope", "--email", "a@b.test"], "no organization with slug"),
        (["allyproof_api_token", "--org", "nope"], "no organization with slug"),
        (["allyproof_ingest", "--site", "999", "x.json"], "no site with id 999"),
    ],
)
def test_command_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_ingest_command(site, tmp_path):
    good = tmp_path / "scan.json"
    good.write_bytes(factories.axe_fixture("multi_page__site.json"))
    assert "new" in run("allyproof_ingest", "--site", str(site.pk), str(good))
    assert Scan.objects.get(site=site).source == Scan.Source.COMMAND
    bad = tmp_path / "bad.json"
    bad.write_text('{"url": "https://x.example/"}')
    with pytest.raises(CommandError, match="nothing was imported: results: missing the 'violations' list"):
        run("allyproof_ingest", "--site", str(site.pk), str(bad))
    assert Scan.objects.count() == 1


@pytest.mark.django_db
def test_demo_seed_is_realistic_and_runs_once():
    output = run("allyproof_seed_demo")
    assert "owner@demo.allyproof.test" in output
    org = Organization.objects.get(name="Demo Agency")
    assert set(org.memberships.values_list("role", flat=True)) == {"owner", "admin", "member"}
    assert Site.objects.filter(organization=org).count() == 3
    acme = Site.objects.get(name="ACME Dental")
    assert acme.scans.count() == 2
    assert Violation.objects.filter(site__organization=org, impact="critical").exists()
    beta = Site.objects.get(name="BetaCorp").violations.first()
    assert all(url.startswith("https://www.betacorp.example/") for url in beta.pages)
    assert "already there" in run("allyproof_seed_demo")
    assert Site.objects.count() == 3
