"""The seeded demo: "Demo Agency" with three client sites and realistic scan history.

The scan files are real axe-core output captured from the fixture site in tests/fixtures/axe
(see its README); the other two clients reuse it under their own host names.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

from django.db import transaction

from allyproof.accounts.models import Organization, Role
from allyproof.accounts.services import membership_set, organization_create, user_get_or_create
from allyproof.core import clock

from .models import Scan
from .services import scan_ingest, site_create

DATA = Path(__file__).parent / "demo_data"
FIXTURE_ORIGIN = b"https://www.acme-dental.example"
DEMO_PASSWORD = "allyproof-demo"
PEOPLE = (
    ("owner@demo.allyproof.test", "Olivia Owner", Role.OWNER),
    ("admin@demo.allyproof.test", "Adam Admin", Role.ADMIN),
    ("member@demo.allyproof.test", "Mia Member", Role.MEMBER),
)
# (site name, origin, [(scan file, days ago)])
SITES = (
    ("ACME Dental", "https://www.acme-dental.example", [("acme_first_scan", 14), ("acme_rescan", 2)]),
    ("BetaCorp", "https://www.betacorp.example", [("acme_first_scan", 5)]),
    ("Gamma Shop (staging)", "https://staging.gamma-shop.example", [("acme_rescan", 1)]),
)


def _scan_file(name: str, origin: str) -> io.BytesIO:
    data = gzip.decompress((DATA / f"{name}.json.gz").read_bytes())
    return io.BytesIO(data.replace(FIXTURE_ORIGIN, origin.encode()))


@transaction.atomic
def demo_seed(*, name: str = "Demo Agency") -> tuple[Organization, bool]:
    """Creates the demo organization once; returns (organization, created)."""
    existing = Organization.objects.filter(name=name).first()
    if existing is not None:
        return existing, False
    people = {role: user_get_or_create(email=email, password=DEMO_PASSWORD, display_name=display)
              for email, display, role in PEOPLE}
    organization = organization_create(name=name, owner=people[Role.OWNER])
    for role in (Role.ADMIN, Role.MEMBER):
        membership_set(organization=organization, user=people[role], role=role)
    now = clock.now()
    for site_name, origin, scans in SITES:
        site = site_create(organization=organization, name=site_name, base_url=f"{origin}/")
        for scan_file, days_ago in scans:
            scan_ingest(
                site=site, stream=_scan_file(scan_file, origin), source=Scan.Source.DEMO,
                scanned_at=now - dt.timedelta(days=days_ago),
            )
    return organization, True
