from django.core.management.base import BaseCommand

from allyproof.core import crypto
from allyproof.integrations.jira.connection import vault


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Jira token under the primary (first) key of ALLYPROOF_ENCRYPTION_KEYS. "
        "Rotate by putting a new key first, keeping the old ones after it, running this, then removing them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--generate", metavar="KEY_ID", help="only print a new random key as KEY_ID:base64")

    def handle(self, *args, generate, **options):
        if generate:
            self.stdout.write(crypto.new_key_spec(generate))
            return
        ring = vault.keyring()
        changed = vault.reseal_all(ring)
        others = [key_id for key_id in ring.keys if key_id != ring.primary_id]
        self.stdout.write(f"re-encrypted {changed} connection(s) under key {ring.primary_id!r}")
        if others:
            self.stdout.write(f"no stored token uses {', '.join(others)} any more: you can remove them from the keyring")
