"""Sessions (one per login): the caller's list and revocation of one, the administrator's
list and revocation of all, and the idle and absolute expiry that take a session off the list."""

from datetime import datetime, timedelta

import jwt

from tests.helpers import Clock, bearer, login

USER_AGENT = "py-auth-tests/1.0"


def _session_id(tokens: dict) -> str:
    """The session an access token belongs to: its `sid` claim."""
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    session_id: str = claims["sid"]
    return session_id


async def _my_sessions(client, tokens: dict) -> list[dict]:
    response = await client.get("/auth/sessions", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items


async def _refresh(client, tokens: dict):
    return await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


async def _logins(client, clock: Clock, email: str, count: int) -> list[dict]:
    """`count` logins of one user, a minute apart, oldest first."""
    tokens = []
    for _ in range(count):
        tokens.append(await login(client, email))
        clock.advance(minutes=1)
    return tokens


# --- The caller's sessions ----------------------------------------------------------------------


async def test_sessions_lists_the_callers_sessions_newest_first(client, make_user, clock):
    user = await make_user()
    logins = await _logins(client, clock, user.email, 3)

    items = await _my_sessions(client, logins[0])

    assert [item["id"] for item in items] == [_session_id(tokens) for tokens in reversed(logins)]


async def test_sessions_marks_the_session_of_the_calling_token_as_current(client, make_user, clock):
    user = await make_user()
    logins = await _logins(client, clock, user.email, 3)

    items = await _my_sessions(client, logins[1])

    assert [item["id"] for item in items if item["current"]] == [_session_id(logins[1])]


async def test_a_session_shows_when_and_from_where_it_was_started(client, make_user, clock):
    user = await make_user()
    logged_in_at = clock.now
    tokens = await login(client, user.email, headers={"User-Agent": USER_AGENT})

    (item,) = await _my_sessions(client, tokens)

    assert item["ip"] == "203.0.113.7"
    assert item["user_agent"] == USER_AGENT
    assert datetime.fromisoformat(item["created_at"]) == logged_in_at
    assert datetime.fromisoformat(item["last_used_at"]) == logged_in_at


async def test_sessions_leaves_out_other_users_sessions(client, make_user, clock):
    user = await make_user()
    other = await make_user()
    mine = await login(client, user.email)
    await login(client, other.email)

    items = await _my_sessions(client, mine)

    assert [item["id"] for item in items] == [_session_id(mine)]


async def test_sessions_leaves_out_a_session_that_logged_out(client, make_user, clock):
    user = await make_user()
    ended, kept = await _logins(client, clock, user.email, 2)
    await client.post("/auth/logout", json={"refresh_token": ended["refresh_token"]})

    items = await _my_sessions(client, kept)

    assert [item["id"] for item in items] == [_session_id(kept)]


async def test_sessions_without_a_token_gives_401(client):
    response = await client.get("/auth/sessions")

    assert response.status_code == 401


# --- Revoking one of the caller's sessions -----------------------------------------------------


async def test_revoking_a_session_ends_its_refresh_token(client, make_user, clock):
    user = await make_user()
    revoked, kept = await _logins(client, clock, user.email, 2)

    response = await client.delete(
        f"/auth/sessions/{_session_id(revoked)}", headers=bearer(kept["access_token"])
    )

    assert response.status_code == 204, response.text
    refresh = await _refresh(client, revoked)
    assert refresh.status_code == 401
    assert refresh.json()["code"] == "token_revoked"


async def test_revoking_a_session_ends_its_access_token_at_once(client, make_user, clock):
    user = await make_user()
    revoked, kept = await _logins(client, clock, user.email, 2)

    await client.delete(
        f"/auth/sessions/{_session_id(revoked)}", headers=bearer(kept["access_token"])
    )

    response = await client.get("/users/me", headers=bearer(revoked["access_token"]))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_revoking_a_session_leaves_the_others_working(client, make_user, clock):
    user = await make_user()
    revoked, kept = await _logins(client, clock, user.email, 2)

    await client.delete(
        f"/auth/sessions/{_session_id(revoked)}", headers=bearer(kept["access_token"])
    )

    assert (await client.get("/users/me", headers=bearer(kept["access_token"]))).status_code == 200
    assert (await _refresh(client, kept)).status_code == 200
    assert [item["id"] for item in await _my_sessions(client, kept)] == [_session_id(kept)]


async def test_a_session_can_revoke_itself(client, make_user, clock):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await client.delete(
        f"/auth/sessions/{_session_id(tokens)}", headers=bearer(tokens["access_token"])
    )

    assert response.status_code == 204
    assert (
        await client.get("/users/me", headers=bearer(tokens["access_token"]))
    ).status_code == 401


async def test_revoking_another_users_session_gives_404_and_leaves_it_alone(
    client, make_user, clock
):
    owner = await make_user()
    intruder = await make_user(roles=["admin"])
    owners = await login(client, owner.email)
    intruders = await login(client, intruder.email)

    response = await client.delete(
        f"/auth/sessions/{_session_id(owners)}", headers=bearer(intruders["access_token"])
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert (await _refresh(client, owners)).status_code == 200


async def test_revoking_an_unknown_session_gives_404(client, make_user, clock):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await client.delete(
        "/auth/sessions/00000000-0000-4000-8000-000000000000",
        headers=bearer(tokens["access_token"]),
    )

    assert response.status_code == 404


async def test_revoking_a_session_by_a_malformed_id_gives_422(client, make_user, clock):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await client.delete(
        "/auth/sessions/not-a-uuid", headers=bearer(tokens["access_token"])
    )

    assert response.status_code == 422


# --- An administrator's view --------------------------------------------------------------------


async def test_an_admin_lists_a_users_sessions_newest_first(client, make_user, auth_headers, clock):
    user = await make_user()
    admin = await make_user(roles=["admin"])
    logins = await _logins(client, clock, user.email, 2)

    response = await client.get(f"/users/{user.id}/sessions", headers=await auth_headers(admin))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == [_session_id(tokens) for tokens in reversed(logins)]
    assert not any(item["current"] for item in items)


async def test_listing_the_sessions_of_an_unknown_user_gives_404(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.get("/users/424242/sessions", headers=await auth_headers(admin))

    assert response.status_code == 404


async def test_an_admin_revoking_a_users_sessions_ends_every_refresh_token(
    client, make_user, auth_headers, clock
):
    user = await make_user()
    admin = await make_user(roles=["admin"])
    logins = await _logins(client, clock, user.email, 2)

    response = await client.delete(f"/users/{user.id}/sessions", headers=await auth_headers(admin))

    assert response.status_code == 204, response.text
    for tokens in logins:
        assert (await _refresh(client, tokens)).status_code == 401


async def test_an_admin_revoking_a_users_sessions_ends_every_access_token(
    client, make_user, auth_headers, clock
):
    user = await make_user()
    admin = await make_user(roles=["admin"])
    logins = await _logins(client, clock, user.email, 2)

    await client.delete(f"/users/{user.id}/sessions", headers=await auth_headers(admin))

    for tokens in logins:
        response = await client.get("/users/me", headers=bearer(tokens["access_token"]))
        assert response.status_code == 401


async def test_an_admin_revoking_a_users_sessions_leaves_other_users_alone(
    client, make_user, auth_headers, clock
):
    user = await make_user()
    other = await make_user()
    admin = await make_user(roles=["admin"])
    await login(client, user.email)
    others = await login(client, other.email)

    await client.delete(f"/users/{user.id}/sessions", headers=await auth_headers(admin))

    assert (await _refresh(client, others)).status_code == 200


async def test_revoking_the_sessions_of_an_unknown_user_gives_404(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.delete("/users/424242/sessions", headers=await auth_headers(admin))

    assert response.status_code == 404


async def test_revoking_a_users_sessions_needs_update_user(client, make_user, auth_headers, clock):
    user = await make_user()
    editor = await make_user(roles=["editor"])
    tokens = await login(client, user.email)

    response = await client.delete(f"/users/{user.id}/sessions", headers=await auth_headers(editor))

    assert response.status_code == 403
    assert response.json()["missing"] == ["update_user"]
    assert (await _refresh(client, tokens)).status_code == 200


# --- Idle and absolute expiry ---------------------------------------------------------------------


async def test_a_session_expires_refresh_token_days_after_the_login(
    client, make_user, settings, clock
):
    user = await make_user()
    logged_in_at = clock.now
    tokens = await login(client, user.email)

    (item,) = await _my_sessions(client, tokens)

    expected = logged_in_at + timedelta(days=settings.refresh_token_days)
    assert datetime.fromisoformat(item["expires_at"]) == expected


async def test_refreshing_moves_last_used_at_but_not_the_expiry(client, make_user, settings, clock):
    user = await make_user()
    tokens = await login(client, user.email)
    (before,) = await _my_sessions(client, tokens)
    clock.advance(days=1)

    tokens = (await _refresh(client, tokens)).json()

    (after,) = await _my_sessions(client, tokens)
    assert datetime.fromisoformat(after["last_used_at"]) == clock.now
    assert after["expires_at"] == before["expires_at"]


async def test_a_session_idle_for_refresh_idle_days_leaves_the_list(
    client, make_user, settings, clock
):
    user = await make_user()
    await login(client, user.email)
    clock.advance(days=settings.refresh_idle_days, seconds=1)
    current = await login(client, user.email)

    items = await _my_sessions(client, current)

    assert [item["id"] for item in items] == [_session_id(current)]


async def test_a_session_used_within_the_idle_period_stays_on_the_list(
    client, make_user, settings, clock
):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(days=settings.refresh_idle_days - 1)
    assert (await _refresh(client, tokens)).status_code == 200
    clock.advance(days=settings.refresh_idle_days - 1)
    current = await login(client, user.email)

    items = await _my_sessions(client, current)

    assert [item["id"] for item in items] == [_session_id(current), _session_id(tokens)]


async def test_a_session_refreshed_all_along_leaves_the_list_at_its_absolute_expiry(
    client, make_user, settings, clock
):
    user = await make_user()
    logged_in_at = clock.now
    tokens = await login(client, user.email)
    end = logged_in_at + timedelta(days=settings.refresh_token_days)
    while clock.now + timedelta(days=1) < end:
        clock.advance(days=1)
        response = await _refresh(client, tokens)
        assert response.status_code == 200, response.text
        tokens = response.json()
    clock.now = end
    current = await login(client, user.email)

    items = await _my_sessions(client, current)

    assert [item["id"] for item in items] == [_session_id(current)]
