"""REGISTRATION and DEFAULT_ROLE (security review, item 1)."""

import pytest
from sqlalchemy import select

from app.auth.models import Role, User
from app.core.config import SettingsError
from tests.helpers import PASSWORD, client_of, fresh_app, make_settings


async def test_closed_registration_is_403_registration_closed(app, database_url):
    # (`app` is requested for its cleanup of the database after the test.)
    async with (
        fresh_app(database_url, registration="closed") as closed,
        client_of(closed) as client,
    ):
        response = await client.post(
            "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
        )

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "registration_closed"


async def test_closed_registration_creates_nothing(app, database_url, session):
    async with (
        fresh_app(database_url, registration="closed") as closed,
        client_of(closed) as client,
    ):
        await client.post("/auth/register", json={"email": "new@example.com", "password": PASSWORD})

    assert await session.scalar(select(User).where(User.email == "new@example.com")) is None


async def test_a_registered_account_gets_the_default_role(app, database_url, session):
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


async def test_the_app_refuses_to_start_when_the_default_role_does_not_exist(app, database_url):
    async with fresh_app(database_url, default_role="no-such-role") as broken:
        with pytest.raises(SettingsError, match="DEFAULT_ROLE"):
            async with broken.router.lifespan_context(broken):
                pass


async def test_the_default_role_cannot_be_deleted(app, database_url, session):
    session.add(Role(name="newcomer", description=""))
    admin_role = await session.scalar(select(Role).where(Role.name == "admin"))
    admin = User(
        email="roles-admin@example.com",
        hashed_password=await app.state.password_hasher.hash(PASSWORD),
        roles=[admin_role],
    )
    session.add(admin)
    await session.commit()
    async with (
        fresh_app(database_url, default_role="newcomer") as newcomers,
        client_of(newcomers) as client,
    ):
        tokens = (
            await client.post("/auth/login", data={"username": admin.email, "password": PASSWORD})
        ).json()
        response = await client.delete(
            "/roles/newcomer", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )

    assert response.status_code == 409, response.text
    assert await session.scalar(select(Role).where(Role.name == "newcomer")) is not None
