"""The upload form on the site page: each bad input gets a message and writes nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from allyproof.monitoring.models import Scan, Violation
from tests import factories


def upload(client, site, data: bytes, name="results.json"):
    return client.post(reverse("scan_upload", args=[site.pk]), {"results": SimpleUploadedFile(name, data)})


def test_member_uploads_a_scan(client, site, member_user):
    client.force_login(member_user)
    response = upload(client, site, factories.axe_fixture("multi_page__site.json"))
    assert response.status_code == 302
    scan = Scan.objects.get(site=site)
    assert scan.source == Scan.Source.UPLOAD and scan.created_by == member_user
    assert site.violations.count() == scan.violations_found > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"<html>not json</html>", "Nothing was imported. not axe-core results"),
        (b'[{"url": "https://a.example/", "violations": [{"id": "x", "impact": "huge"}]}]',
         "pages[0].violations[0].impact: rule &#x27;x&#x27; has unknown impact"),
    ],
)
def test_bad_upload_says_why_and_writes_nothing(client, site, member_user, data, message):
    client.force_login(member_user)
    response = upload(client, site, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Scan.objects.count() == 0 and Violation.objects.count() == 0


def test_upload_over_the_limit_is_refused(client, site, member_user, settings):
    client.force_login(member_user)
    settings.CONFIG = settings.CONFIG.replace(max_upload_bytes=1024)
    response = upload(client, site, factories.axe_fixture("single_page__home.json"))
    assert response.status_code == 400
    assert "the limit is 1.0\xa0KB" in response.content.decode()
    assert Scan.objects.count() == 0


def test_upload_to_a_site_of_another_organization_is_404(client, site, other_org):
    client.force_login(other_org.memberships.get().user)
    response = upload(client, site, factories.axe_fixture("single_page__home.json"))
    assert response.status_code == 404
    assert Scan.objects.count() == 0

