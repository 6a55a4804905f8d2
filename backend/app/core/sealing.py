"""Encryption at rest for the few secrets py-auth must read back (a TOTP secret, a signing
key's private part): AES-256-GCM, with a key id in every sealed value so keys can rotate.

A sealed value is ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``. The key id is a
fingerprint of the key (never the key), so a value names the key that opens it. The first
key seals; every key opens. With ENCRYPTION_KEYS unset, the one key is derived from
JWT_SECRET (HKDF, a purpose of its own); once ENCRYPTION_KEYS is set, that derived key still
opens what it sealed, so moving to keys of your own needs no migration of the data.

Each value is bound to a context (``associated_data``: the table, the column and the row) so
a sealed value copied into another row, another user's for instance, does not open.
"""

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.config import Settings
from app.core.security import derive_key

SEALING_KEY_PURPOSE = "py-auth at-rest encryption"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, random per value: safe far beyond the number of values sealed here
FORMAT = "v1"


class UnsealError(Exception):
    """A sealed value that no configured key opens (unknown key id, tampered, wrong context)."""


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str
    aead: AESGCM


def _key(raw: bytes) -> _Key:
    key_id = hashlib.sha256(b"py-auth key id" + raw).hexdigest()[:16]
    return _Key(key_id=key_id, aead=AESGCM(raw))


def decode_encryption_key(text: str) -> bytes:
    """One entry of ENCRYPTION_KEYS: 32 bytes, base64url (padding optional)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("an encryption key is base64url text") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an encryption key is {KEY_BYTES} bytes (base64url: 43 characters)")
    return raw


class Sealer:
    """Seals and opens short secrets with the configured keys."""

    def __init__(self, settings: Settings) -> None:
        derived = _key(derive_key(settings.jwt_secret.get_secret_value(), SEALING_KEY_PURPOSE, 32))
        own = [_key(decode_encryption_key(k)) for k in settings.encryption_key_list()]
        keys = [*own, derived]
        self._sealing_key = keys[0]
        self._keys = {key.key_id: key for key in keys}

    @property
    def sealing_key_id(self) -> str:
        return self._sealing_key.key_id

    def seal(self, plaintext: bytes, *, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._sealing_key.aead.encrypt(nonce, plaintext, context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT}.{self._sealing_key.key_id}.{body}"

    def open(self, sealed: str, *, context: str) -> bytes:
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        key = self._keys.get(key_id)
        if version != FORMAT or key is None:
            raise UnsealError("sealed with a key that is not configured")
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return key.aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], context.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise UnsealError("the sealed value does not open") from None

    def needs_resealing(self, sealed: str) -> bool:
        """True when the value was sealed with a key other than the current sealing key."""
        return sealed.split(".", 2)[1:2] != [self._sealing_key.key_id]
