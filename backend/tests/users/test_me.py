"""/users/me: the caller's own account, read fresh from the database on every request."""

import pytest
from sqlalchemy import insert, select

from app.auth.models import Role, user_roles
from tests.helpers import PASSWORD, attempt_login, bearer, login

NEW_PASSWORD = "a brand new passphrase"


async def _change_password(client, headers, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return await client.post(
        "/users/me/password",
        headers=headers,
        json={"current_password": current, "new_password": new},
    )


async def test_read_me_without_a_token_gives_401(client):
    response = await client.get("/users/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_read_me_returns_the_caller_with_sorted_roles_and_permissions(
    client, make_user, auth_headers
):
    user = await make_user("alice@example.com", roles=["viewer", "editor"], full_name="Alice")

    response = await client.get("/users/me", headers=await auth_headers(user))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "email",
        "full_name",
        "is_active",
        "created_at",
        "roles",
        "email_verified",
        "mfa_enabled",
        "permissions",
    }
    assert body["id"] == user.id
    assert body["email"] == "alice@example.com"
    assert body["full_name"] == "Alice"
    assert body["is_active"] is True
    assert body["roles"] == ["editor", "viewer"]
    assert body["permissions"] == ["create_article", "read_article", "read_user", "update_article"]


async def test_role_change_in_the_database_shows_on_the_next_request_with_the_same_token(
    client, session, make_user, auth_headers
):
    user = await make_user(roles=["viewer"])
    headers = await auth_headers(user)
    before = (await client.get("/users/me", headers=headers)).json()
    assert before["roles"] == ["viewer"]

    editor_id = await session.scalar(select(Role.id).where(Role.name == "editor"))
    await session.execute(insert(user_roles).values(user_id=user.id, role_id=editor_id))
    await session.commit()

    after = (await client.get("/users/me", headers=headers)).json()
    assert after["roles"] == ["editor", "viewer"]
    assert "create_article" in after["permissions"]
    assert "create_article" not in before["permissions"]


async def test_update_me_changes_the_full_name(client, make_user, auth_headers):
    user = await make_user(full_name="Old Name")
    headers = await auth_headers(user)

    response = await client.patch("/users/me", headers=headers, json={"full_name": "New Name"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["full_name"] == "New Name"
    assert body["id"] == user.id
    assert body["roles"] == ["viewer"]
    assert (await client.get("/users/me", headers=headers)).json()["full_name"] == "New Name"


@pytest.mark.parametrize(
    "extra",
    [{"roles": ["admin"]}, {"is_active": False}, {"email": "new@example.com"}],
    ids=["roles", "is_active", "email"],
)
async def test_update_me_refuses_fields_other_than_full_name(
    client, make_user, auth_headers, extra
):
    user = await make_user()
    headers = await auth_headers(user)

    response = await client.patch("/users/me", headers=headers, json={"full_name": "X", **extra})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    me = (await client.get("/users/me", headers=headers)).json()
    assert me["roles"] == ["viewer"]
    assert me["email"] == user.email
    assert me["full_name"] is None


async def test_change_password_returns_204_and_the_old_password_stops_working(
    client, make_user, auth_headers
):
    user = await make_user()

    response = await _change_password(client, await auth_headers(user))

    assert response.status_code == 204
    assert (await attempt_login(client, user.email, PASSWORD)).status_code == 401


async def test_change_password_makes_the_new_password_work(client, make_user, auth_headers):
    user = await make_user()
    assert (await attempt_login(client, user.email, NEW_PASSWORD)).status_code == 401

    assert (await _change_password(client, await auth_headers(user))).status_code == 204

    assert (await attempt_login(client, user.email, NEW_PASSWORD)).status_code == 200


async def test_change_password_revokes_every_refresh_token_of_the_user(
    client, make_user, auth_headers
):
    user = await make_user()
    sessions = [await login(client, user.email) for _ in range(2)]

    assert (await _change_password(client, bearer(sessions[0]["access_token"]))).status_code == 204

    for tokens in sessions:
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401
        assert refreshed.json()["code"] == "token_revoked"


async def test_change_password_with_a_wrong_current_password_gives_400(
    client, make_user, auth_headers
):
    user = await make_user()

    response = await _change_password(client, await auth_headers(user), current="not my password")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_current_password"
    assert (await attempt_login(client, user.email, PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "new_password",
    ["short", "x" * 129, "alice@example.com", "ALICE@example.com"],
    ids=["too-short", "too-long", "email", "email-other-case"],
)
async def test_change_password_refuses_a_new_password_against_the_policy(
    client, make_user, auth_headers, new_password
):
    user = await make_user("alice@example.com")

    response = await _change_password(client, await auth_headers(user), new=new_password)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["loc"] for error in body["errors"]] == [["body", "new_password"]]
    assert (await attempt_login(client, user.email, PASSWORD)).status_code == 200


async def test_change_password_without_a_token_gives_401(client):
    response = await _change_password(client, {})

    assert response.status_code == 401
