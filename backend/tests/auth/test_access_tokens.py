"""Access tokens, checked against GET /users/me: only a token this service issued, unexpired,
for this issuer and audience, of the access type, for an active user, gets in. Every test runs
twice: with the default asymmetric key (RS256, a kid in the header) and with HS256."""

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import delete

from app.auth.models import User
from app.core.clock import utcnow
from app.core.signing_keys import generate_private_key
from tests.helpers import (
    TEST_ACCESS_TOKEN_KEY,
    assert_401,
    bearer,
    client_of,
    forge_access_token,
    fresh_app,
    login,
)

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256-9876543210"


async def _me(client, token: str):
    return await client.get("/users/me", headers=bearer(token))


@pytest.fixture(params=["RS256", "HS256"])
async def client(request, client, database_url):
    """A client of an app that signs with this algorithm (the session's app is RS256)."""
    if request.param == "RS256":
        yield client
        return
    async with (
        fresh_app(database_url, jwt_algorithm="HS256") as application,
        client_of(application) as http,
    ):
        yield http


def _app(client):
    return client._transport.app


def _is_hmac(client) -> bool:
    return _app(client).state.access_tokens.keys is None


def _verification_key(client):
    """What a verifier holds: the public key of the active key, or the HMAC key."""
    keys = _app(client).state.access_tokens.keys
    if keys is None:
        return TEST_ACCESS_TOKEN_KEY
    return keys.verification_key(keys.signing_key(utcnow()).kid, utcnow()).public_key


@pytest.fixture
def forge(client, make_session):
    """`await forge(user, **changes)`: forge_access_token for a new live session of the user,
    for the app of `client`."""

    async def factory(user, **changes) -> str:
        session_id = await make_session(user)
        return forge_access_token(_app(client), user.id, session_id=session_id, **changes)

    return factory


async def test_a_token_forged_like_the_service_issues_them_is_accepted(client, make_user, forge):
    # The control for the tests below: each changes one thing of this token.
    user = await make_user()

    response = await _me(client, await forge(user))

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_missing_token_gives_401_not_authenticated(client):
    response = await client.get("/users/me")

    assert_401(response, "not_authenticated")


async def test_non_bearer_authorization_gives_401_not_authenticated(client):
    response = await client.get("/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert_401(response, "not_authenticated")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "\u00e9t\u00e9"])
async def test_garbage_token_gives_401_invalid_token(client, token):
    # Sent as UTF-8 bytes: a header is not always ASCII.
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}".encode()})

    assert_401(response, "invalid_token")


async def test_tampered_signature_gives_401(client, make_user, forge):
    user = await make_user()
    token = await forge(user)
    header, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"

    response = await _me(client, tampered)

    assert_401(response, "invalid_token")


async def test_tampered_payload_gives_401(client, make_user, forge):
    user = await make_user()
    other = await make_user(roles=["admin"])
    token = await forge(user)
    _, _, signature = token.split(".")
    header, payload, _ = (await forge(other)).split(".")

    response = await _me(client, f"{header}.{payload}.{signature}")

    assert_401(response, "invalid_token")


async def test_alg_none_token_gives_401(client, make_user, forge):
    user = await make_user()
    token = await forge(user, key=None, algorithm="none")

    response = await _me(client, token)

    assert_401(response, "invalid_token")


async def test_token_signed_with_another_key_gives_401(client, make_user, forge):
    # Another secret, or another private key under our kid.
    user = await make_user()
    other = OTHER_SECRET if _is_hmac(client) else generate_private_key("RS256")

    response = await _me(client, await forge(user, key=other))

    assert_401(response, "invalid_token")


async def test_token_signed_with_another_algorithm_of_the_family_gives_401(
    client, make_user, forge
):
    user = await make_user()

    response = await _me(
        client, await forge(user, algorithm="HS384" if _is_hmac(client) else "RS512")
    )

    assert_401(response, "invalid_token")


async def test_token_of_another_issuer_gives_401(client, make_user, forge):
    user = await make_user()

    response = await _me(client, await forge(user, iss="someone-else"))

    assert_401(response, "invalid_token")


async def test_token_for_another_audience_gives_401(client, make_user, forge):
    user = await make_user()

    response = await _me(client, await forge(user, aud="another-api"))

    assert_401(response, "invalid_token")


async def test_expired_token_gives_401_token_expired(client, make_user, forge):
    user = await make_user()
    past = utcnow() - timedelta(hours=1)
    token = await forge(user, iat=past, exp=past + timedelta(minutes=15))

    response = await _me(client, token)

    assert_401(response, "token_expired")


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "jti", "iss", "aud", "type"])
async def test_token_missing_a_required_claim_gives_401(client, make_user, forge, claim):
    user = await make_user()

    response = await _me(client, await forge(user, drop=(claim,)))

    assert_401(response, "invalid_token")


@pytest.mark.parametrize("sub", ["not-a-number", "", "1.5"])
async def test_token_whose_subject_is_not_a_user_id_gives_401(client, make_user, forge, sub):
    user = await make_user()

    response = await _me(client, await forge(user, sub=sub))

    assert_401(response, "invalid_token")


async def test_token_of_type_refresh_gives_401(client, make_user, forge):
    user = await make_user()

    response = await _me(client, await forge(user, type="refresh"))

    assert_401(response, "invalid_token")


@pytest.mark.parametrize("typ", ["JWT", "jwt", None], ids=["JWT", "jwt", "no-typ"])
async def test_token_whose_header_typ_is_not_at_jwt_gives_401(client, make_user, forge, typ):
    user = await make_user()

    response = await _me(client, await forge(user, typ=typ))

    assert_401(response, "invalid_token")


async def test_access_token_carries_identity_claims_only(client, make_user):
    user = await make_user(roles=["admin"])
    tokens = await login(client, user.email)
    settings = _app(client).state.settings

    claims = jwt.decode(
        tokens["access_token"],
        _verification_key(client),
        algorithms=[settings.jwt_algorithm],
        audience=settings.jwt_audience,
        issuer=settings.token_issuer,
    )

    assert set(claims) == {
        *("sub", "sid", "exp", "iat", "jti", "iss", "aud", "type"),
        *("auth_time", "amr"),  # how and when the user proved who they are (RFC 8176, 9470)
    }
    assert claims["sub"] == str(user.id)
    assert claims["amr"] == ["pwd"]
    assert claims["auth_time"] == claims["iat"]
    assert claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == settings.access_token_minutes * 60


async def test_access_token_header_typ_is_at_jwt(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    header = jwt.get_unverified_header(tokens["access_token"])

    assert header["typ"] == "at+jwt"
    assert header["alg"] == _app(client).state.settings.jwt_algorithm


async def test_each_access_token_has_its_own_jti(client, make_user):
    user = await make_user()
    first = await login(client, user.email)
    second = await login(client, user.email)

    jtis = {
        jwt.decode(tokens["access_token"], options={"verify_signature": False})["jti"]
        for tokens in (first, second)
    }

    assert len(jtis) == 2


async def test_deactivated_users_token_stops_working_at_the_next_request(
    client, session, make_user, forge
):
    user = await make_user()
    headers = bearer(await forge(user))
    assert (await client.get("/users/me", headers=headers)).status_code == 200

    user.is_active = False
    await session.commit()

    assert_401(await client.get("/users/me", headers=headers), "invalid_token")


async def test_deleted_users_token_gives_401(client, session, make_user, forge):
    user = await make_user()
    headers = bearer(await forge(user))
    assert (await client.get("/users/me", headers=headers)).status_code == 200

    await session.execute(delete(User).where(User.id == user.id))
    await session.commit()

    assert_401(await client.get("/users/me", headers=headers), "invalid_token")


# The compact form as py-auth writes it, and nothing looser (app.core.security.decode).


async def test_a_token_with_padding_in_a_segment_gives_401(client, make_user, forge):
    header, payload, signature = (await forge(await make_user())).split(".")

    response = await _me(client, f"{header}.{payload}.{signature}==")

    assert_401(response, "invalid_token")


async def test_a_token_with_a_fourth_segment_gives_401(client, make_user, forge):
    token = await forge(await make_user())

    response = await _me(client, f"{token}.{token.split('.')[2]}")

    assert_401(response, "invalid_token")


async def test_a_token_asking_for_critical_extensions_gives_401(client, make_user, forge):
    # RFC 7515 §4.1.11: a crit py-auth does not understand refuses the token, signed or not.
    token = await forge(await make_user(), headers={"crit": ["exp"], "exp": 1})

    response = await _me(client, token)

    assert_401(response, "invalid_token")


async def test_a_token_whose_audience_is_a_list_naming_this_service_is_accepted(
    client, make_user, forge
):
    audience = _app(client).state.settings.jwt_audience

    response = await _me(client, await forge(await make_user(), aud=["other", audience]))

    assert response.status_code == 200, response.text


async def test_a_token_whose_payload_is_not_a_json_object_gives_401(client, make_user, forge):
    header, _, signature = (await forge(await make_user())).split(".")
    payload = "WzEsMiwzXQ"  # [1,2,3]

    response = await _me(client, f"{header}.{payload}.{signature}")

    assert_401(response, "invalid_token")
