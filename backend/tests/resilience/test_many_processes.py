"""Two py-auth processes (two uvicorn servers) on one PostgreSQL database, as behind a load
balancer: what one does is in force on the other at its very next request, because nothing
that matters is kept in a process's memory."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.helpers import attempt_login, bearer, login, postgres_only
from tests.servers import Server, server_env, start_server

pytestmark = postgres_only


@pytest.fixture(scope="module")
async def servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Server, Server]]:
    """Two servers for the module; each test empties the database after itself (`a`, `b`)."""
    logs = tmp_path_factory.mktemp("servers")
    env = server_env(database_url)
    started = await asyncio.gather(
        start_server(env, logs / "a.log"), start_server(env, logs / "b.log"), return_exceptions=True
    )
    try:
        first, second = (server for server in started if isinstance(server, Server))
        assert not [error for error in started if isinstance(error, BaseException)], started
        yield first, second
    finally:
        for server in started:
            if isinstance(server, Server):
                server.kill()


@pytest.fixture
async def a(servers, clean_database) -> AsyncIterator[httpx.AsyncClient]:
    async with servers[0].client() as http:
        yield http


@pytest.fixture
async def b(servers, clean_database) -> AsyncIterator[httpx.AsyncClient]:
    async with servers[1].client() as http:
        yield http


async def test_a_logout_on_one_process_ends_the_session_on_the_other(a, b, make_user):
    user = await make_user()
    tokens = await login(a, user.email)
    assert (await b.get("/users/me", headers=bearer(tokens["access_token"]))).status_code == 200

    assert (
        await a.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 204

    me = await b.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"
    refresh = await b.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    assert refresh.json()["code"] == "token_revoked"


async def test_a_deactivation_on_one_process_locks_the_user_out_of_the_other(
    a, b, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])
    user = await make_user()
    tokens = await login(b, user.email)

    response = await a.patch(
        f"/users/{user.id}", json={"is_active": False}, headers=await auth_headers(admin)
    )
    assert response.status_code == 200, response.text

    assert (await b.get("/users/me", headers=bearer(tokens["access_token"]))).status_code == 401
    refresh = await b.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    assert (await attempt_login(b, user.email)).status_code == 401


async def test_a_role_change_on_one_process_applies_on_the_other(a, b, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    user = await make_user(roles=["viewer"])
    headers = bearer((await login(b, user.email))["access_token"])
    article = {"title": "Written on B"}
    assert (await b.post("/articles", json=article, headers=headers)).status_code == 403

    granted = await a.patch(
        f"/users/{user.id}", json={"roles": ["editor"]}, headers=await auth_headers(admin)
    )
    assert granted.status_code == 200, granted.text
    assert (await b.post("/articles", json=article, headers=headers)).status_code == 201

    taken = await a.patch(
        f"/users/{user.id}", json={"roles": ["viewer"]}, headers=await auth_headers(admin)
    )
    assert taken.status_code == 200, taken.text
    assert (await b.post("/articles", json=article, headers=headers)).status_code == 403


async def test_a_lockout_earned_on_one_process_holds_on_the_other(a, b, make_user, settings):
    user = await make_user()
    for _ in range(settings.login_max_failures):
        assert (await attempt_login(a, user.email, "wrong password, again")).status_code == 401

    locked = await attempt_login(b, user.email)

    assert locked.status_code == 429
    assert locked.json()["code"] == "rate_limited"
    assert int(locked.headers["Retry-After"]) > 0


@pytest.mark.parametrize("attempt", range(5))
async def test_one_refresh_token_sent_to_both_at_once_succeeds_once_and_revokes_the_family(
    a, b, make_user, attempt
):
    # Five times: which process wins changes; that exactly one does, does not.
    user = await make_user()
    tokens = await login(a, user.email)
    body = {"refresh_token": tokens["refresh_token"]}

    answers = await asyncio.gather(
        a.post("/auth/refresh", json=body), b.post("/auth/refresh", json=body)
    )

    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200, 401], [response.text for response in answers]
    winner = next(response for response in answers if response.status_code == 200)
    loser = next(response for response in answers if response.status_code == 401)
    assert loser.json()["code"] == "token_revoked"
    # The loser's answer was a reuse: the whole family is revoked, the winner's new token too.
    for http in (a, b):
        again = await http.post(
            "/auth/refresh", json={"refresh_token": winner.json()["refresh_token"]}
        )
        assert again.status_code == 401
        assert again.json()["code"] == "token_revoked"
    me = await b.get("/users/me", headers=bearer(winner.json()["access_token"]))
    assert me.status_code == 401
