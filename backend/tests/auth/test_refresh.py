"""POST /auth/refresh: rotation, reuse detection, expiry, and what the database keeps."""

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import RefreshToken
from tests.helpers import assert_401, assert_error, bearer, login


async def _refresh(client, refresh_token: str):
    return await client.post("/auth/refresh", json={"refresh_token": refresh_token})


async def test_refresh_returns_a_new_pair_with_a_different_refresh_token(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _refresh(client, tokens["refresh_token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    me = await client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == user.id


async def test_refresh_token_rotation_revokes_the_presented_token(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 200

    response = await _refresh(client, tokens["refresh_token"])

    assert_401(response, "token_revoked")


async def test_refresh_token_reuse_revokes_the_family(client, make_user):
    user = await make_user()
    stolen = (await login(client, user.email))["refresh_token"]
    rotated = await _refresh(client, stolen)
    assert rotated.status_code == 200
    newest = rotated.json()["refresh_token"]

    assert (await _refresh(client, stolen)).status_code == 401

    assert_401(await _refresh(client, newest), "token_revoked")


async def test_refresh_token_reuse_leaves_other_logins_alone(client, make_user):
    user = await make_user()
    stolen = (await login(client, user.email))["refresh_token"]
    other_login = (await login(client, user.email))["refresh_token"]
    assert (await _refresh(client, stolen)).status_code == 200
    assert (await _refresh(client, stolen)).status_code == 401

    response = await _refresh(client, other_login)

    assert response.status_code == 200, response.text


async def test_unknown_refresh_token_gives_401_invalid_token(client, make_user):
    await make_user()

    response = await _refresh(client, "x" * 43)

    assert_401(response, "invalid_token")


@pytest.mark.parametrize(
    "body",
    [{"refresh_token": ""}, {"refresh_token": "x" * 513}, {"refresh_token": 42}, {}],
    ids=["empty", "too-long", "not-a-string", "missing"],
)
async def test_malformed_refresh_token_is_refused(client, body):
    response = await client.post("/auth/refresh", json=body)

    assert_error(response, 422, "validation_error")


async def test_refresh_token_sent_with_extra_fields_is_refused(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"], "user_id": 1}
    )

    assert response.status_code == 422


async def test_expired_refresh_token_gives_401_token_expired(client, make_user, settings, clock):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(days=settings.refresh_token_days, minutes=1)

    response = await _refresh(client, tokens["refresh_token"])

    assert_401(response, "token_expired")


async def test_refresh_token_in_use_still_expires_refresh_token_days_after_login(
    client, make_user, settings, clock
):
    user = await make_user()
    logged_in_at = clock.now
    token = (await login(client, user.email))["refresh_token"]
    lifetime = timedelta(days=settings.refresh_token_days)
    # Refreshing often enough never to be idle: rotation must not extend the login.
    step = timedelta(days=settings.refresh_idle_days) - timedelta(minutes=1)
    while clock.now + step < logged_in_at + lifetime:
        clock.now += step
        response = await _refresh(client, token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
    clock.now = logged_in_at + lifetime + timedelta(minutes=1)

    response = await _refresh(client, token)

    assert_401(response, "token_expired")


async def test_refresh_token_unused_for_the_idle_period_gives_401_token_expired(
    client, make_user, settings, clock
):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(days=settings.refresh_idle_days, minutes=1)

    response = await _refresh(client, tokens["refresh_token"])

    assert_401(response, "token_expired")


async def test_refresh_token_works_just_before_the_idle_period_ends(
    client, make_user, settings, clock
):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(days=settings.refresh_idle_days, minutes=-1)

    response = await _refresh(client, tokens["refresh_token"])

    assert response.status_code == 200, response.text


async def test_refresh_token_is_stored_only_as_its_sha256(client, session, make_user):
    user = await make_user()
    first = (await login(client, user.email))["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]

    rows = (await session.execute(select(RefreshToken.__table__))).mappings().all()

    assert len(rows) == 2
    hashes = {row["token_hash"] for row in rows}
    assert hashes == {hashlib.sha256(token.encode()).hexdigest() for token in (first, second)}
    for row in rows:
        for value in row.values():
            assert first not in str(value)
            assert second not in str(value)


async def test_refresh_of_an_inactive_users_token_gives_401(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    user.is_active = False
    await session.commit()

    response = await _refresh(client, tokens["refresh_token"])

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].partition(" ")[0] == "Bearer"


async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    responses = await asyncio.gather(*(_refresh(client, tokens["refresh_token"]) for _ in range(5)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 401, 401, 401, 401], [r.text for r in responses]
