from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from allyproof.accounts.services import organization_create, user_get_or_create


class Command(BaseCommand):
    help = "Create an organization with its owner (the owner's account is created when new)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help='organization name, e.g. "Demo Agency"')
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", help="needed only when the owner's account is new")

    def handle(self, *args, name, owner_email, owner_password, **options):
        from allyproof.accounts.models import User

        if not User.objects.filter(email__iexact=owner_email).exists() and not owner_password:
            raise CommandError(f"{owner_email} has no account yet: pass --owner-password to create it")
        try:
            owner = user_get_or_create(email=owner_email, password=owner_password)
        except ValidationError as refused:
            raise CommandError("the password is refused: " + " ".join(refused.messages)) from None
        organization = organization_create(name=name, owner=owner)
        self.stdout.write(f"created organization {organization.name!r} (slug {organization.slug}) owned by {owner.email}")
