"""The keyring behind the token vault: AES-256-GCM with key ids, so keys can rotate.

A stored value is `v1:<key id>:<base64(nonce ‖ ciphertext+tag)>` with a fresh 96-bit random nonce.
The associated data binds a ciphertext to the row and field it was written for
(e.g. "jira_connection:42:refresh_token"): copied to another row or field it fails to decrypt.
The first key is the primary (used to encrypt); the others only decrypt, until rotated away.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from allyproof.core import files

PREFIX = "v1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyringError(Exception):
    """The configured keys are unusable (start-up problem)."""


class DecryptionError(Exception):
    """A stored value cannot be decrypted: unknown key id, tampered, or bound to another row/field."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]  # key id -> 32-byte key, insertion order: primary first

    @property
    def primary_id(self) -> str:
        return next(iter(self.keys))

    def encrypt(self, plaintext: str, *, associated_data: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.keys[self.primary_id]).encrypt(nonce, plaintext.encode(), associated_data.encode())
        return f"{PREFIX}:{self.primary_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, associated_data: str) -> str:
        try:
            prefix, key_id, payload = stored.split(":", 2)
            raw = base64.b64decode(payload, validate=True)
        except (ValueError, binascii.Error):
            raise DecryptionError("not a vault value") from None
        if prefix != PREFIX or key_id not in self.keys:
            raise DecryptionError(f"no key {key_id!r} in the keyring (was it removed too early?)")
        try:
            plain = AESGCM(self.keys[key_id]).decrypt(raw[:12], raw[12:], associated_data.encode())
        except InvalidTag:
            raise DecryptionError("the value was tampered with or belongs to another row or field") from None
        return plain.decode()

    def key_id_of(self, stored: str) -> str:
        return stored.split(":", 2)[1]


def parse(spec: str) -> Keyring:
    """`k2:base64key,k1:base64key` -> Keyring (primary first)."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise KeyringError(f"ALLYPROOF_ENCRYPTION_KEYS: {item[:12]!r}… is not 'keyid:base64key'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise KeyringError(f"ALLYPROOF_ENCRYPTION_KEYS: key {key_id!r} is not valid base64") from None
        if len(key) != 32:
            raise KeyringError(f"ALLYPROOF_ENCRYPTION_KEYS: key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
        if key_id in keys:
            raise KeyringError(f"ALLYPROOF_ENCRYPTION_KEYS: key id {key_id!r} appears twice")
        keys[key_id] = key
    if not keys:
        raise KeyringError("ALLYPROOF_ENCRYPTION_KEYS holds no key")
    return Keyring(keys)


def new_key_spec(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def local_key_spec(data_dir: Path) -> tuple[str, bool]:
    """The embedded default's key file (created once, mode 0600). Returns (spec, created)."""
    path = data_dir / "encryption_keys"
    if path.exists():
        return path.read_text().strip(), False
    files.private_dir(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key_spec("local1"))
    return path.read_text().strip(), True
