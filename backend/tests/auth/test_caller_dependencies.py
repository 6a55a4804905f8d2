"""The caller's dependencies (CurrentUser, require_permission): one query for the caller per
request, however many of them a route declares."""

from typing import Annotated, Any

import pytest

from app.auth import dependencies
from app.auth.dependencies import CurrentUser, require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal
from tests.helpers import bearer, client_of, fresh_app, login

Reader = Annotated[Principal, require_permission(Perm.READ_ARTICLE)]
Writer = Annotated[Principal, require_permission(Perm.CREATE_ARTICLE)]


async def _both(user: CurrentUser, reader: Reader, writer: Writer) -> dict[str, int]:
    return {"user": user.id, "reader": reader.id, "writer": writer.id}


@pytest.fixture
def principal_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The user id of each query for a caller (load_principal), in order."""
    loads: list[int] = []
    load = dependencies.load_principal

    async def counted(database: Any, user_id: int, *args: Any, **kwargs: Any) -> Any:
        loads.append(user_id)
        return await load(database, user_id, *args, **kwargs)

    monkeypatch.setattr(dependencies, "load_principal", counted)
    return loads


async def test_a_route_with_three_caller_dependencies_loads_the_caller_once(
    settings, make_user, principal_loads
):
    user = await make_user(roles=["editor"])
    async with fresh_app(settings.database_url) as app:
        app.router.add_api_route("/test/caller-three-times", _both, methods=["GET"])
        async with client_of(app) as http:
            token = (await login(http, user.email))["access_token"]

            response = await http.get("/test/caller-three-times", headers=bearer(token))

    assert response.json() == {"user": user.id, "reader": user.id, "writer": user.id}
    assert principal_loads == [user.id]


async def test_each_request_loads_its_own_caller(settings, make_user, principal_loads):
    ann, bob = await make_user(roles=["editor"]), await make_user(roles=["editor"])
    async with fresh_app(settings.database_url) as app:
        app.router.add_api_route("/test/caller-three-times", _both, methods=["GET"])
        async with client_of(app) as http:
            tokens = [(await login(http, who.email))["access_token"] for who in (ann, bob)]

            answers = [
                (await http.get("/test/caller-three-times", headers=bearer(token))).json()
                for token in tokens
            ]

    assert [answer["user"] for answer in answers] == [ann.id, bob.id]
    assert principal_loads == [ann.id, bob.id]


async def test_a_missing_permission_is_refused_by_its_own_dependency(
    settings, make_user, principal_loads
):
    viewer = await make_user(roles=["viewer"])  # reads articles, does not write them
    async with fresh_app(settings.database_url) as app:
        app.router.add_api_route("/test/caller-three-times", _both, methods=["GET"])
        async with client_of(app) as http:
            token = (await login(http, viewer.email))["access_token"]

            response = await http.get("/test/caller-three-times", headers=bearer(token))

    assert response.status_code == 403
    assert response.json()["missing"] == [Perm.CREATE_ARTICLE]
    assert principal_loads == [viewer.id]
