"""The token vault: a connection's access and refresh tokens, encrypted at rest.

Each ciphertext is bound to its row and field (associated data), so a value copied to another
connection, or from the refresh field to the access field, fails to decrypt.
"""

from __future__ import annotations

import functools

from django.conf import settings

from allyproof.core import crypto

from allyproof.integrations.jira.models import JiraConnection

FIELDS = ("access_token", "refresh_token")


@functools.cache
def _keyring(spec: str) -> crypto.Keyring:
    return crypto.parse(spec)


def keyring() -> crypto.Keyring:
    return _keyring(settings.CONFIG.encryption_keys)


def _aad(connection: JiraConnection, field: str) -> str:
    if connection.pk is None:
        raise ValueError("save the connection before storing tokens: the row id is part of the binding")
    return f"jira_connection:{connection.pk}:{field}"


def seal(connection: JiraConnection, field: str, plaintext: str) -> str:
    assert field in FIELDS
    return keyring().encrypt(plaintext, associated_data=_aad(connection, field))


def open_(connection: JiraConnection, field: str) -> str:
    stored = getattr(connection, field)
    if not stored:
        raise crypto.DecryptionError(f"the connection holds no {field.replace('_', ' ')}")
    return keyring().decrypt(stored, associated_data=_aad(connection, field))


def reseal_all(ring: crypto.Keyring | None = None) -> int:
    """Re-encrypts every stored token under the primary key (after rotation). Returns rows changed."""
    ring = ring or keyring()
    changed = 0
    for connection in JiraConnection.objects.exclude(access_token="", refresh_token="").iterator():
        updates = {}
        for field in FIELDS:
            stored = getattr(connection, field)
            if stored and ring.key_id_of(stored) != ring.primary_id:
                plain = ring.decrypt(stored, associated_data=_aad(connection, field))
                updates[field] = ring.encrypt(plain, associated_data=_aad(connection, field))
        if updates:
            JiraConnection.objects.filter(pk=connection.pk, **{f: getattr(connection, f) for f in updates}).update(
                **updates
            )
            changed += 1
    return changed
