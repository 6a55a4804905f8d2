"""require_role, for completeness: py-auth checks permissions, but a route may ask for a role."""

from typing import Annotated

from fastapi import FastAPI

from app.auth.dependencies import require_role
from app.auth.schemas import Principal
from tests.helpers import client_of, fresh_app


def _with_editors_route(app: FastAPI) -> None:
    @app.get("/editors-only")
    async def editors_only(user: Annotated[Principal, require_role("editor")]) -> dict[str, int]:
        return {"id": user.id}


async def test_a_caller_holding_the_role_passes(database_url, make_user, auth_headers):
    editor = await make_user(roles=["editor"])
    async with fresh_app(database_url) as app, client_of(app) as client:
        _with_editors_route(app)
        response = await client.get("/editors-only", headers=await auth_headers(editor))

    assert response.status_code == 200, response.text
    assert response.json() == {"id": editor.id}


async def test_a_caller_without_the_role_is_403_with_the_missing_role(
    database_url, make_user, auth_headers
):
    viewer = await make_user(roles=["viewer"])
    async with fresh_app(database_url) as app, client_of(app) as client:
        _with_editors_route(app)
        response = await client.get("/editors-only", headers=await auth_headers(viewer))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["missing_roles"] == ["editor"]


async def test_an_anonymous_caller_is_401(database_url):
    async with fresh_app(database_url) as app, client_of(app) as client:
        _with_editors_route(app)
        response = await client.get("/editors-only")

    assert response.status_code == 401
