"""POST /auth/logout and /auth/logout-all: ending one login, or all of them."""

from tests.helpers import bearer, login


async def _refresh(client, refresh_token: str):
    return await client.post("/auth/refresh", json={"refresh_token": refresh_token})


async def _logout(client, refresh_token: str):
    return await client.post("/auth/logout", json={"refresh_token": refresh_token})


async def test_logout_returns_204_and_revokes_the_refresh_token(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _logout(client, tokens["refresh_token"])

    assert response.status_code == 204
    assert response.content == b""
    refreshed = await _refresh(client, tokens["refresh_token"])
    assert refreshed.status_code == 401
    assert refreshed.json()["code"] == "token_revoked"


async def test_logout_ends_the_access_token_of_its_login_at_once(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    assert (
        await client.get("/users/me", headers=bearer(tokens["access_token"]))
    ).status_code == 200

    assert (await _logout(client, tokens["refresh_token"])).status_code == 204

    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"


async def test_logout_revokes_the_tokens_rotated_from_the_same_login(client, make_user):
    user = await make_user()
    first = (await login(client, user.email))["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]

    assert (await _logout(client, first)).status_code == 204

    assert (await _refresh(client, second)).status_code == 401


async def test_logout_leaves_the_users_other_logins_alone(client, make_user):
    user = await make_user()
    ended = (await login(client, user.email))["refresh_token"]
    other = (await login(client, user.email))["refresh_token"]

    assert (await _logout(client, ended)).status_code == 204

    assert (await _refresh(client, other)).status_code == 200


async def test_logout_twice_returns_204_both_times(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    first = await _logout(client, tokens["refresh_token"])
    second = await _logout(client, tokens["refresh_token"])

    assert (first.status_code, second.status_code) == (204, 204)


async def test_logout_with_an_unknown_token_returns_204(client):
    response = await _logout(client, "x" * 43)

    assert response.status_code == 204


async def test_logout_all_revokes_every_refresh_token_of_the_caller(client, make_user):
    user = await make_user()
    first = await login(client, user.email)
    second = await login(client, user.email)

    response = await client.post("/auth/logout-all", headers=bearer(first["access_token"]))

    assert response.status_code == 204
    for tokens in (first, second):
        refreshed = await _refresh(client, tokens["refresh_token"])
        assert refreshed.status_code == 401
        assert refreshed.json()["code"] == "token_revoked"


async def test_logout_all_ends_every_access_token_of_the_caller(client, make_user):
    user = await make_user()
    first = await login(client, user.email)
    second = await login(client, user.email)

    assert (
        await client.post("/auth/logout-all", headers=bearer(first["access_token"]))
    ).status_code == 204

    for tokens in (first, second):
        me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 401


async def test_logout_all_leaves_other_users_tokens_alone(client, make_user):
    user = await make_user()
    other = await make_user()
    mine = await login(client, user.email)
    theirs = await login(client, other.email)

    assert (
        await client.post("/auth/logout-all", headers=bearer(mine["access_token"]))
    ).status_code == 204

    assert (await _refresh(client, theirs["refresh_token"])).status_code == 200


async def test_logout_all_without_a_token_gives_401(client):
    response = await client.post("/auth/logout-all")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"].partition(" ")[0] == "Bearer"
