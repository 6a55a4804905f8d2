"""JWT_SECRET is never used as a key itself: the access-token signing key and the CSRF key are
each derived from it for their one purpose (HKDF, app.core.security.derive_key). Whoever
learns CSRF values (readable cookies) learns nothing that signs a token, and the reverse."""

import hashlib
import hmac

import jwt
import pytest

from tests.helpers import (
    TEST_ACCESS_TOKEN_KEY,
    TEST_SECRET,
    attempt_login,
    bearer,
    client_of,
    forge_access_token,
    fresh_app,
    login,
)


async def test_the_csrf_token_is_made_with_neither_the_jwt_secret_nor_the_hmac_signing_key(
    database_url, make_user
):
    user = await make_user()
    # Plain cookie names (COOKIE_SECURE=false), as `make run` serves the console.
    async with (
        fresh_app(database_url, cookie_secure=False) as application,
        client_of(application) as http,
    ):
        response = await attempt_login(http, user.email, headers={"X-Client": "browser"})
    assert response.status_code == 200, response.text
    refresh_token, csrf_token = response.cookies["refresh_token"], response.cookies["csrf_token"]

    for key in (TEST_SECRET.encode(), TEST_ACCESS_TOKEN_KEY):
        for message in (refresh_token.encode(), b"csrf:" + refresh_token.encode()):
            assert csrf_token != hmac.new(key, message, hashlib.sha256).hexdigest()


async def test_an_hs256_access_token_is_not_signed_with_the_jwt_secret(database_url, make_user):
    user = await make_user()
    async with (
        fresh_app(database_url, jwt_algorithm="HS256") as application,
        client_of(application) as http,
    ):
        tokens = await login(http, user.email)

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            tokens["access_token"],
            TEST_SECRET,
            algorithms=["HS256"],
            audience=application.state.settings.jwt_audience,
            issuer=application.state.settings.token_issuer,
        )


@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
async def test_an_access_token_signed_with_the_jwt_secret_is_refused(
    database_url, make_user, make_session, algorithm
):
    user = await make_user()
    async with fresh_app(database_url, jwt_algorithm=algorithm) as application:
        token = forge_access_token(
            application,
            user.id,
            session_id=await make_session(user),
            key=TEST_SECRET,
            algorithm="HS256",
        )
        async with client_of(application) as http:
            response = await http.get("/users/me", headers=bearer(token))

    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "The access token is invalid.", "code": "invalid_token"}
