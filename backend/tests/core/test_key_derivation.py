"""derive_key: HKDF-SHA256 (RFC 5869) of a secret, one key per purpose."""

import uuid
import warnings

import pytest

from app.core.security import (
    ACCESS_TOKEN_KEY_PURPOSE,
    CSRF_KEY_PURPOSE,
    AccessTokenCodec,
    derive_key,
)
from tests.helpers import TEST_SECRET, issue_access_token, make_settings


def test_derive_key_is_hkdf_sha256_without_salt():
    # RFC 5869, appendix A.3: IKM 22 octets of 0x0b, no salt, no info, L = 42 (two blocks).
    okm = derive_key("\x0b" * 22, "", length=42)

    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_each_purpose_gets_its_own_key():
    access, csrf = (
        derive_key(TEST_SECRET, p) for p in (ACCESS_TOKEN_KEY_PURPOSE, CSRF_KEY_PURPOSE)
    )

    assert access != csrf


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_the_signing_key_is_as_long_as_rfc_7518_asks_for_each_algorithm(database_url, algorithm):
    # RFC 7518 §3.2: a key at least as long as the hash; PyJWT warns of a shorter one.
    codec = AccessTokenCodec(make_settings(database_url, jwt_algorithm=algorithm))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        issue_access_token(codec, 1, uuid.uuid4())
