from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from allyproof.accounts.models import Organization, Role, User
from allyproof.accounts.services import membership_set, user_get_or_create


class Command(BaseCommand):
    help = "Add a person to an organization (or change their role)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)
        parser.add_argument("--password", help="needed only when the account is new")

    def handle(self, *args, org, email, role, password, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        if not User.objects.filter(email__iexact=email).exists() and not password:
            raise CommandError(f"{email} has no account yet: pass --password to create it")
        try:
            user = user_get_or_create(email=email, password=password)
        except ValidationError as refused:
            raise CommandError("the password is refused: " + " ".join(refused.messages)) from None
        membership_set(organization=organization, user=user, role=role)
        self.stdout.write(f"{user.email} is {role} of {organization.name}")
