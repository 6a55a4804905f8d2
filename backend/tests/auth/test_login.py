"""POST /auth/login: the OAuth2 password grant, and what it tells (or hides) about accounts."""

from unittest.mock import AsyncMock

import pytest
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select

from app.auth.models import User
from tests.helpers import PASSWORD, attempt_login

OLD_PARAMETERS = {"time_cost": 2, "memory_cost": 2048, "parallelism": 1}


async def test_login_returns_a_bearer_token_pair(client, make_user):
    user = await make_user()

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]


async def test_login_accepts_grant_type_password(client, make_user):
    user = await make_user()

    response = await attempt_login(client, user.email, form={"grant_type": "password"})

    assert response.status_code == 200, response.text


async def test_wrong_password_unknown_email_and_inactive_user_get_the_same_401(client, make_user):
    active = await make_user()
    inactive = await make_user(is_active=False)

    responses = [
        await attempt_login(client, active.email, "wrong password!"),
        await attempt_login(client, "nobody@example.com"),
        await attempt_login(client, inactive.email),
    ]

    for response in responses:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].partition(" ")[0] == "Bearer"
        assert response.json()["code"] == "invalid_credentials"
    assert len({response.content for response in responses}) == 1
    assert len({response.headers["WWW-Authenticate"] for response in responses}) == 1


async def test_login_refuses_a_json_body(client, make_user):
    user = await make_user()

    response = await client.post("/auth/login", json={"username": user.email, "password": PASSWORD})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token", "PASSWORD"])
async def test_login_refuses_a_grant_type_other_than_password_or_client_credentials(
    client, make_user, grant_type
):
    user = await make_user()

    response = await attempt_login(client, user.email, form={"grant_type": grant_type})

    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_grant_type"


async def test_login_matches_the_email_case_insensitively(client, make_user):
    user = await make_user("alice@example.com")

    response = await attempt_login(client, " ALICE@Example.COM ")

    assert response.status_code == 200, response.text
    assert user.email == "alice@example.com"


async def test_login_rehashes_a_password_hashed_with_outdated_parameters(
    app, client, session, make_user, settings
):
    user = await make_user()
    old_hash = Argon2Hasher(**OLD_PARAMETERS).hash(PASSWORD)
    user.hashed_password = old_hash
    await session.commit()

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text
    stored = await session.scalar(select(User.hashed_password).where(User.id == user.id))
    assert stored != old_hash
    current = (
        f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost},"
        f"p={settings.argon2_parallelism}"
    )
    assert current in stored
    assert await app.state.password_hasher.verify_and_update(PASSWORD, stored) == (True, None)


async def test_login_keeps_a_hash_with_current_parameters(client, session, make_user):
    user = await make_user()

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text
    stored = await session.scalar(select(User.hashed_password).where(User.id == user.id))
    assert stored == user.hashed_password


async def test_login_with_an_unknown_email_verifies_against_a_dummy_hash(app, client, monkeypatch):
    hasher = app.state.password_hasher
    spy = AsyncMock(wraps=hasher.verify_dummy)
    monkeypatch.setattr(hasher, "verify_dummy", spy)

    response = await attempt_login(client, "nobody@example.com", "some password")

    assert response.status_code == 401
    spy.assert_awaited_once_with("some password")


async def test_a_stored_value_that_is_no_argon2_hash_matches_no_password(
    client, make_user, session
):
    user = await make_user()
    user.hashed_password = "!"  # a disabled-account marker, say
    await session.commit()
    response = await attempt_login(client, user.email, "!")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
