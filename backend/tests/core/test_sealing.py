"""Encryption at rest: what a sealed value opens with, and what it refuses."""

import base64
import secrets

import pytest

from app.core.sealing import Sealer, UnsealError
from tests.helpers import make_settings


def sealer(keys: str | None = None) -> Sealer:
    return Sealer(make_settings("sqlite+aiosqlite://", encryption_keys=keys))


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def test_a_sealed_value_opens_in_its_own_context() -> None:
    box = sealer()
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", context="mfa_totp:7")

    assert box.open(sealed, context="mfa_totp:7") == b"JBSWY3DPEHPK3PXP"


def test_a_sealed_value_holds_no_plaintext() -> None:
    sealed = sealer().seal(b"JBSWY3DPEHPK3PXP", context="mfa_totp:7")

    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert b"JBSWY3DPEHPK3PXP" not in base64.urlsafe_b64decode(sealed.split(".")[2] + "==")


def test_a_sealed_value_copied_to_another_row_does_not_open() -> None:
    box = sealer()
    sealed = box.seal(b"secret", context="mfa_totp:7")

    with pytest.raises(UnsealError):
        box.open(sealed, context="mfa_totp:8")


def test_a_tampered_value_does_not_open() -> None:
    box = sealer()
    version, key_id, body = box.seal(b"secret", context="c").split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]

    with pytest.raises(UnsealError):
        box.open(f"{version}.{key_id}.{flipped}", context="c")


def test_values_sealed_with_the_derived_key_open_after_keys_of_ones_own_are_set() -> None:
    before = sealer()
    sealed = before.seal(b"secret", context="c")
    after = sealer(new_key())

    assert after.open(sealed, context="c") == b"secret"
    assert after.needs_resealing(sealed)
    assert not after.needs_resealing(after.seal(b"secret", context="c"))


def test_the_first_key_seals_and_an_older_one_still_opens() -> None:
    old, new = new_key(), new_key()
    sealed_with_old = sealer(old).seal(b"secret", context="c")
    rotated = sealer(f"{new},{old}")

    assert rotated.open(sealed_with_old, context="c") == b"secret"
    assert rotated.needs_resealing(sealed_with_old)


def test_a_value_sealed_with_a_key_no_longer_configured_does_not_open() -> None:
    sealed = sealer(new_key()).seal(b"secret", context="c")

    with pytest.raises(UnsealError):
        sealer(new_key()).open(sealed, context="c")


@pytest.mark.parametrize("key", ["short", "not base64 !", base64.b64encode(b"x" * 16).decode()])
def test_an_encryption_key_that_is_not_32_bytes_of_base64url_is_refused(key: str) -> None:
    with pytest.raises(Exception, match="encryption key"):
        make_settings("sqlite+aiosqlite://", encryption_keys=key)
