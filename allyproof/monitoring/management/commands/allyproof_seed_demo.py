from django.core.management.base import BaseCommand

from allyproof.monitoring.demo import DEMO_PASSWORD, PEOPLE, demo_seed


class Command(BaseCommand):
    help = 'Create the "Demo Agency" organization with three client sites and scan history (once).'

    def handle(self, *args, **options):
        organization, created = demo_seed()
        verb = "created" if created else "already there"
        self.stdout.write(f"demo: {organization.name} {verb}; sign in as any of (password {DEMO_PASSWORD}):")
        for email, name, role in PEOPLE:
            self.stdout.write(f"  {email:32} {role:7} {name}")
