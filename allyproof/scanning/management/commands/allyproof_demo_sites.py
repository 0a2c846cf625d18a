"""Adds the demo's locally served client sites to the demo organization (once), one with a schedule."""

import datetime as dt

from django.core.management.base import BaseCommand

from allyproof.accounts.models import Organization
from allyproof.monitoring.models import Site
from allyproof.monitoring.services import site_create
from allyproof.scanning import services

# (name, port offset from --port, schedule): the sites scripts/demo_sites.py serves, in its order.
LOCAL_SITES = (("Harbor Clinic (local demo site)", 0, "daily"), ("Northwind Books (local demo site)", 1, "off"))


class Command(BaseCommand):
    help = "Add the demo's local client sites (served by scripts/demo_sites.py) to the demo organization."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--organization", default="Demo Agency")

    def handle(self, *args, port: int, organization: str, **options):
        org = Organization.objects.filter(name=organization).first()
        if org is None:
            self.stderr.write(f"demo: no organization named {organization!r}; run allyproof_seed_demo first")
            return
        for name, offset, schedule in LOCAL_SITES:
            url = f"http://127.0.0.1:{port + offset}/"
            site = Site.objects.filter(organization=org, name=name).first()
            if site is None:
                site = site_create(organization=org, name=name, base_url=url)
                services.scan_settings_save(site=site, values={
                    "schedule": schedule, "schedule_time": dt.time(6, 0), "requests_per_second": 20})
            elif site.base_url != url:
                Site.objects.filter(pk=site.pk).update(base_url=url)
            self.stdout.write(f"demo: {name} scans {url}")
