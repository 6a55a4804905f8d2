"""Attacks on asymmetric access tokens: each is refused with 401 invalid_token. (alg none,
another key under our kid and a wrong algorithm of the family run in tests/auth/
test_access_tokens.py for RS256 and HS256 alike.)"""

import asyncio
import base64
import hashlib
import hmac
import json
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from app.core.clock import utcnow
from app.core.config import SettingsError, load_settings
from app.core.signing_keys import generate_private_key, public_jwk, thumbprint
from tests.helpers import assert_401, bearer, forge_access_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
async def live_session(make_user, make_session):
    user = await make_user()
    return user, await make_session(user)


async def test_an_hs256_token_keyed_with_the_public_key_pem_is_refused(
    app, client, ring, live_session
):
    # The algorithm-confusion attack: the verifier's public key, published, used as an HMAC
    # secret. PyJWT will not sign that way, so the token is made by hand.
    user, session_id = live_session
    signer = ring.signing_key(utcnow())
    public_pem = ring.verification_key(signer.kid, utcnow()).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = app.state.settings
    now = int(utcnow().timestamp())
    header = {"alg": "HS256", "typ": "at+jwt", "kid": signer.kid}
    claims = {
        "sub": str(user.id),
        "sid": str(session_id),
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "iss": settings.token_issuer,
        "aud": settings.jwt_audience,
        "type": "access",
    }
    signing_input = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    response = await client.get("/users/me", headers=bearer(f"{signing_input}.{_b64(signature)}"))

    assert_401(response, "invalid_token")


async def test_a_token_with_an_unknown_kid_is_refused(app, client, live_session):
    user, session_id = live_session
    attacker = generate_private_key("RS256")
    token = forge_access_token(
        app, user.id, session_id=session_id, key=attacker, kid=thumbprint(public_jwk(attacker))
    )

    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_a_token_without_a_kid_is_refused(app, client, live_session):
    # (A kid that is not a string is refused by PyJWT's header check itself.)
    user, session_id = live_session

    token = forge_access_token(app, user.id, session_id=session_id, kid=None)

    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_random_kids_read_the_key_set_at_most_once_a_second(
    app, client, ring, live_session, monkeypatch
):
    user, session_id = live_session
    reads = []
    load = ring._load

    async def counted():
        reads.append(1)
        return await load()

    monkeypatch.setattr(ring, "_load", counted)
    await ring.reload()  # the last read is now: the next second allows no other
    reads.clear()

    for _ in range(20):
        token = forge_access_token(app, user.id, session_id=session_id, kid=uuid.uuid4().hex)
        assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")

    assert reads == []


async def test_jku_x5u_and_an_embedded_jwk_are_never_followed(app, client, live_session):
    # The attacker signs with a key of their own and points at it three ways; py-auth looks
    # keys up by kid in its own set only, and the server that would hand the key out hears
    # nothing.
    contacted: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        contacted.append(await reader.read(1024))
        writer.close()

    server = await asyncio.start_server(record, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/jwks.json"
    user, session_id = live_session
    attacker = generate_private_key("RS256")
    jwk = public_jwk(attacker)
    try:
        token = forge_access_token(
            app,
            user.id,
            session_id=session_id,
            key=attacker,
            kid=thumbprint(jwk),
            headers={"jku": url, "x5u": url, "jwk": jwk},
        )
        response = await client.get("/users/me", headers=bearer(token))
        await asyncio.sleep(0)  # a connection attempt would have been accepted by now
    finally:
        server.close()
        await server.wait_closed()

    assert_401(response, "invalid_token")
    assert contacted == []


def test_a_configuration_mixing_hmac_and_asymmetric_algorithms_does_not_start(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("JWT_ALGORITHM", "RS256,HS256")

    with pytest.raises(SettingsError, match="mixes HMAC and asymmetric algorithms"):
        load_settings(env_file=None)


def test_a_leaked_public_key_cannot_mint_a_token(ring):
    # What a verifying service holds is the public key: signing needs the private one.
    public = ring.verification_key(ring.signing_key(utcnow()).kid, utcnow()).public_key

    with pytest.raises((TypeError, AttributeError, jwt.InvalidKeyError)):
        jwt.encode({"sub": "1"}, public, algorithm="RS256")
