"""Small builders for test data: plain functions over the real services, no factory library."""

from __future__ import annotations

import io
import json
from pathlib import Path

from allyproof.accounts.models import Role
from allyproof.accounts.services import membership_set, organization_create, user_get_or_create
from allyproof.monitoring.models import Scan
from allyproof.monitoring.services import scan_ingest, site_create

AXE_FIXTURES = Path(__file__).parent / "fixtures" / "axe"
PASSWORD = "correct horse battery staple"


def user(email: str):
    return user_get_or_create(email=email, password=PASSWORD)


def organization(name: str = "Demo Agency", owner_email: str | None = None):
    owner = user(owner_email or f"owner@{name.lower().replace(' ', '-')}.test")
    return organization_create(name=name, owner=owner)


def member(org, email: str, role: str = Role.MEMBER):
    person = user(email)
    membership_set(organization=org, user=person, role=role)
    return person


def site(org, name: str = "ACME Dental", base_url: str = "https://www.acme-dental.example/"):
    return site_create(organization=org, name=name, base_url=base_url)


def axe_fixture(name: str) -> bytes:
    return (AXE_FIXTURES / name).read_bytes()


def ingest(site_, payload, source: str = Scan.Source.COMMAND, **kwargs):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return scan_ingest(site=site_, stream=io.BytesIO(data), source=source, **kwargs)
