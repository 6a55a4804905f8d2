"""REGISTRATION and DEFAULT_ROLE (security review, item 1)."""

import pytest
from sqlalchemy import select

from app.auth.models import Role, User
from app.core.config import SettingsError
from tests.helpers import PASSWORD, bearer, client_of, fresh_app, login, make_settings


async def test_closed_registration_is_403_registration_closed(database_url, clean_database):
    async with (
        fresh_app(database_url, registration="closed") as closed,
        client_of(closed) as client,
    ):
        response = await client.post(
            "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
        )

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "registration_closed"


async def test_closed_registration_creates_nothing(database_url, session):
    async with (
        fresh_app(database_url, registration="closed") as closed,
        client_of(closed) as client,
    ):
        await client.post("/auth/register", json={"email": "new@example.com", "password": PASSWORD})

    assert await session.scalar(select(User).where(User.email == "new@example.com")) is None


async def test_a_registered_account_gets_the_default_role(database_url, clean_database):
    async with (
        fresh_app(database_url, default_role="editor") as editors,
        client_of(editors) as client,
    ):
        response = await client.post(
            "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
        )

    assert response.json()["roles"] == ["editor"]


def test_registration_is_open_and_gives_viewer_by_default():
    settings = make_settings("sqlite+aiosqlite:///:memory:")

    assert (settings.registration, settings.default_role) == ("open", "viewer")


async def test_the_app_refuses_to_start_when_the_default_role_does_not_exist(database_url):
    async with fresh_app(database_url, default_role="no-such-role") as broken:
        with pytest.raises(SettingsError, match="DEFAULT_ROLE"):
            async with broken.router.lifespan_context(broken):
                pass


async def test_the_default_role_cannot_be_deleted(database_url, session, make_user, make_role):
    await make_role("newcomer")
    admin = await make_user("roles-admin@example.com", roles=["admin"])
    async with (
        fresh_app(database_url, default_role="newcomer") as newcomers,
        client_of(newcomers) as client,
    ):
        tokens = await login(client, admin.email)
        response = await client.delete("/roles/newcomer", headers=bearer(tokens["access_token"]))

    assert response.status_code == 409, response.text
    assert await session.scalar(select(Role).where(Role.name == "newcomer")) is not None
