"""The token vault: nothing readable at rest, ciphertexts bound to their row and field, key rotation."""

import io

import pytest
from django.core.management import call_command
from django.db import connection as db

from allyproof.core import crypto
from allyproof.integrations.jira.connection import vault
from allyproof.integrations.jira.models import JiraConnection
from tests import factories

TEST_KEY = "test1:dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYnk="


def all_text_in_database() -> str:
    """Every text value of every table, read raw (no ORM, no decryption)."""
    chunks = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(chunks)


def test_no_plaintext_token_anywhere_in_the_database(connected, client):
    access, refresh = vault.open_(connected, "access_token"), vault.open_(connected, "refresh_token")
    assert len(access) > 10 and len(refresh) > 10
    raw = all_text_in_database()
    assert access not in raw and refresh not in raw
    assert connected.access_token.startswith("v1:test1:")
    page = client.get("/settings/integrations/").content.decode()
    assert access not in page and refresh not in page


def test_admin_pages_do_not_show_tokens(connected, client, django_user_model):
    operator = django_user_model.objects.create_superuser("operator@allyproof.test", factories.PASSWORD)
    client.force_login(operator)
    access = vault.open_(connected, "access_token")
    response = client.get(f"/admin/jira/jiraconnection/{connected.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200 and connected.site_name in page
    assert access not in page
    assert connected.access_token not in page  # not even the ciphertext


def test_ciphertext_moved_to_another_row_or_field_fails(connected, org):
    other = JiraConnection.objects.create(organization=org, status="disconnected", connected_at=connected.connected_at)
    other.access_token = connected.access_token
    with pytest.raises(crypto.DecryptionError, match="another row or field"):
        vault.open_(other, "access_token")
    connected.refresh_token = connected.access_token
    with pytest.raises(crypto.DecryptionError, match="another row or field"):
        vault.open_(connected, "refresh_token")


def test_rotation_reencrypts_and_old_key_decrypts_until_removed(connected, settings):
    access = vault.open_(connected, "access_token")
    new_key = crypto.new_key_spec("k2")
    rotated = settings.CONFIG.replace(encryption_keys=f"{new_key},{TEST_KEY}")
    settings.CONFIG = rotated
    connected.refresh_from_db()
    assert vault.open_(connected, "access_token") == access  # old key still decrypts
    out = io.StringIO()
    call_command("allyproof_rotate_encryption_key", stdout=out)
    assert "re-encrypted 1 connection(s) under key 'k2'" in out.getvalue()
    connected.refresh_from_db()
    assert connected.access_token.startswith("v1:k2:") and connected.refresh_token.startswith("v1:k2:")
    settings.CONFIG = settings.CONFIG.replace(encryption_keys=new_key)
    assert vault.open_(connected, "access_token") == access  # the old key is no longer needed


def test_removing_a_key_too_early_is_a_clear_error(connected, settings):
    settings.CONFIG = settings.CONFIG.replace(encryption_keys=crypto.new_key_spec("k9"))
    with pytest.raises(crypto.DecryptionError, match="no key 'test1'"):
        vault.open_(connected, "access_token")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no key"),
        ("nokey", "is not 'keyid:base64key'"),
        ("k1:!!!", "not valid base64"),
        ("k1:c2hvcnQ=", "is 5 bytes; AES-256 needs 32"),
        (f"{TEST_KEY},{TEST_KEY}", "appears twice"),
    ],
)
def test_bad_key_specs(spec, message):
    with pytest.raises(crypto.KeyringError, match=message):
        crypto.parse(spec)


def test_generate_prints_a_usable_key():
    out = io.StringIO()
    call_command("allyproof_rotate_encryption_key", "--generate", "k3", stdout=out)
    ring = crypto.parse(out.getvalue().strip())
    assert ring.primary_id == "k3"
    assert ring.decrypt(ring.encrypt("x", associated_data="a"), associated_data="a") == "x"


def test_operators_can_read_jobs_and_links_in_the_admin(connected, acme, client, django_user_model, sandbox):
    from allyproof.integrations.jira.outbound import jobs

    job = jobs.push_job_create(site=acme, violations=acme.violations.all()[:2], kind="bulk", project_key="ACME",
                               enqueue=None)
    client.force_login(django_user_model.objects.create_superuser("operator@allyproof.test", factories.PASSWORD))
    for url in ("/admin/jira/pushjob/", f"/admin/jira/pushjob/{job.pk}/change/", "/admin/jira/jiralink/",
                "/admin/jira/inboundevent/", "/admin/jira/sitesyncrule/"):
        assert client.get(url).status_code == 200, url
