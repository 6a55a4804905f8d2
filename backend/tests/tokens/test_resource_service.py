"""Another service, protected by py-auth's tokens through introspection (docs/oauth2-clients.md):
it honours a logout, a revoked personal access token and a deactivation at the next request,
which checking the JWT's signature alone would not."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException

from tests.helpers import bearer, login


def resource_service(py_auth: httpx.AsyncClient, client_id: str, client_secret: str) -> FastAPI:
    """A resource service as docs/oauth2-clients.md writes one: it asks py-auth about every
    token it is shown, as a service account, and serves only active ones."""
    app = FastAPI()

    async def caller(authorization: Annotated[str, Header()] = "") -> dict[str, Any]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401)
        answer = await py_auth.post(
            "/auth/introspect", data={"token": token}, auth=(client_id, client_secret)
        )
        answer.raise_for_status()
        claims: dict[str, Any] = answer.json()
        if not claims["active"]:
            raise HTTPException(401)
        return claims

    @app.get("/reports")
    async def reports(claims: Annotated[dict[str, Any], Depends(caller)]) -> dict[str, Any]:
        return {"for": claims["sub"], "scope": claims["scope"].split()}

    return app


@pytest.fixture
async def resource(app, make_service_account) -> AsyncIterator[httpx.AsyncClient]:
    account = await make_service_account(roles=[])
    py_auth = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://py-auth")
    service = resource_service(py_auth, account.client_id, account.client_secret)
    transport = httpx.ASGITransport(app=service)
    async with py_auth, httpx.AsyncClient(transport=transport, base_url="http://reports") as http:
        yield http


async def test_the_resource_service_serves_a_live_token_and_refuses_it_after_logout(
    resource, client, make_user
):
    user = await make_user()
    tokens = await login(client, user.email)
    served = await resource.get("/reports", headers=bearer(tokens["access_token"]))

    await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    refused = await resource.get("/reports", headers=bearer(tokens["access_token"]))

    assert served.status_code == 200
    assert served.json()["for"] == str(user.id)
    assert refused.status_code == 401


async def test_the_resource_service_refuses_a_revoked_personal_access_token(
    resource, client, make_user, make_token
):
    user = await make_user()
    token = (await make_token(user, scopes=["read_article"]))["token"]
    served = await resource.get("/reports", headers=bearer(token))

    await client.post("/auth/revoke", data={"token": token})
    refused = await resource.get("/reports", headers=bearer(token))

    assert served.json()["scope"] == ["read_article"]
    assert refused.status_code == 401
