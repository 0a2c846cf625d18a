from django.core.management.base import BaseCommand, CommandError

from allyproof.accounts.models import ApiToken, Organization
from allyproof.accounts.services import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "Create (or revoke) an organization's API token for uploading scan results."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--name", default="CI", help="a label for the token")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the token with this prefix instead")

    def handle(self, *args, org, name, revoke, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        if revoke:
            token = ApiToken.objects.filter(organization=organization, prefix=revoke, revoked_at=None).first()
            if token is None:
                raise CommandError(f"no active token with prefix {revoke!r} in {organization.name}")
            api_token_revoke(token=token)
            self.stdout.write(f"revoked {token}")
            return
        token, plaintext = api_token_create(organization=organization, name=name)
        self.stdout.write(f"API token for {organization.name} ({token.name}); shown once, store it now:")
        self.stdout.write(plaintext)
