"""Another service verifies py-auth's tokens with nothing but its public key set: a FastAPI app
using PyJWT's PyJWKClient (as docs/verifying-tokens.md shows), served beside py-auth, accepts a
token before a rotation, a token of the new key after it (fetching the set again for the
unknown kid), and the old token still, until it expires."""

from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Header, HTTPException

from app.core.sealing import Sealer
from app.keys import service
from app.main import create_app
from tests.helpers import bearer, login, make_settings
from tests.servers import poll_until, serve_in_thread


def resource_service(py_auth_url: str, issuer: str, audience: str) -> tuple[FastAPI, list[str]]:
    """The service of the docs, and the list of the key-set fetches it makes. An unknown kid
    refetches the set at most once a `cooldown_duration` (30 s by default; a second here, which
    the publish lead of a second always leaves between the first fetch and the new key)."""
    jwks = jwt.PyJWKClient(
        f"{py_auth_url}/.well-known/jwks.json", lifespan=300, cooldown_duration=1
    )
    fetches: list[str] = []
    fetch = jwks.fetch_data

    def counted_fetch() -> Any:
        fetches.append(jwks.uri)
        return fetch()

    jwks.fetch_data = counted_fetch  # type: ignore[method-assign]
    app = FastAPI()

    @app.get("/whoami")
    def whoami(authorization: Annotated[str, Header()]) -> dict[str, str]:
        # A plain def: PyJWKClient fetches with urllib, which blocks (FastAPI runs it in a
        # thread).
        token = authorization.removeprefix("Bearer ")
        try:
            key = jwks.get_signing_key_from_jwt(token)  # by kid; an unknown kid refetches
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],  # pinned, never the token's own choice
                audience=audience,
                issuer=issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token") from None
        return {"sub": claims["sub"]}

    return app, fetches


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


@pytest.fixture
def py_auth(database_url, clean_database) -> Iterator[tuple[str, Any]]:
    """py-auth served over HTTP, reading its key set every second, with a publish lead of a
    second (JWKS_MAX_AGE_SECONDS=0)."""
    settings = make_settings(database_url, jwks_max_age_seconds=0, key_reload_seconds=1)
    with serve_in_thread(create_app(settings)) as url:
        yield url, settings


async def test_a_resource_service_verifies_tokens_before_and_after_a_rotation(
    py_auth, make_user, session
):
    url, settings = py_auth
    resource, fetches = resource_service(url, settings.token_issuer, settings.jwt_audience)
    user = await make_user()
    with serve_in_thread(resource) as resource_url:
        async with httpx.AsyncClient(base_url=url) as auth, httpx.AsyncClient() as api:

            async def whoami(token: str) -> httpx.Response:
                return await api.get(f"{resource_url}/whoami", headers=bearer(token))

            before = (await login(auth, user.email))["access_token"]
            assert (await whoami(before)).json() == {"sub": str(user.id)}
            assert (await whoami(before)).status_code == 200
            assert len(fetches) == 1  # the set is cached

            await service.rotate(session, Sealer(settings), settings)
            await session.commit()
            rotated: dict[str, str] = {}

            async def new_key_signs() -> bool:
                token = (await login(auth, user.email))["access_token"]
                if (
                    jwt.get_unverified_header(token)["kid"]
                    == jwt.get_unverified_header(before)["kid"]
                ):
                    return False
                rotated["token"] = token
                return True

            await poll_until(new_key_signs, 10, "the new key did not start signing")
            after = rotated["token"]

            assert (await whoami(after)).json() == {"sub": str(user.id)}
            assert len(fetches) == 2  # the unknown kid made it fetch the set again
            assert (await whoami(before)).status_code == 200  # the old key still verifies
            assert (await whoami("not-a-token")).status_code == 401
