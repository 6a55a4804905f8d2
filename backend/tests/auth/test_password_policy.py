"""The password policy, with the reason of each refusal, wherever a password is chosen:
registration, password change and `create-admin`. And no oversized password is ever hashed."""

import asyncio
from unittest.mock import AsyncMock

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from app.auth.models import User
from app.cli import cli
from tests.helpers import PASSWORD, attempt_login, client_of, fresh_app

EMAIL = "margaret@example.com"
TEN_KB = "x" * 10_000

# (password, words of the reason given to the user)
REFUSED = {
    "too-short": ("Tr0ub4d", "at least 8 characters"),
    "too-long": ("x" * 129, "at most 128 characters"),
    "common-password123": ("password123", "most commonly used"),
    "common-iloveyou1": ("iloveyou1", "most commonly used"),
    "common-in-another-case": ("PassWord123", "most commonly used"),
    "contains-the-email-name": ("Margaret likes long walks", "email address's name part"),
    "equal-to-the-email": ("Margaret@Example.com", "must not be your email address"),
}
REFUSAL_CASES = [pytest.param(*case, id=name) for name, case in REFUSED.items()]

runner = CliRunner()


def _refusal_reason(response, field: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    (error,) = body["errors"]
    assert error["loc"] == ["body", field]
    reason: str = error["msg"]
    return reason


async def _register(client, password: str, email: str = EMAIL):
    return await client.post("/auth/register", json={"email": email, "password": password})


async def _change_password(client, headers, new_password: str):
    return await client.post(
        "/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": new_password},
    )


def _user_exists(database_url: str, email: str) -> bool:
    async def load() -> bool:
        engine = create_async_engine(database_url)
        async with engine.connect() as connection:
            found = await connection.scalar(select(User.id).where(User.email == email))
        await engine.dispose()
        return found is not None

    return asyncio.run(load())


# --- Registration -----------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "reason"), REFUSAL_CASES)
async def test_register_refuses_the_password_and_says_why(client, password, reason):
    response = await _register(client, password)

    assert reason in _refusal_reason(response, "password")


async def test_register_accepts_a_short_local_part_inside_the_password(client):
    # A local part under 3 characters ("al") would forbid too many good passwords.
    response = await _register(client, "always a long passphrase", email="al@example.com")

    assert response.status_code == 201, response.text


async def test_register_applies_the_configured_minimum_length(database_url):
    async with (
        fresh_app(database_url, password_min_length=12) as application,
        client_of(application) as http,
    ):
        response = await _register(http, "eleven char")

    assert "at least 12 characters" in _refusal_reason(response, "password")


# --- Password change --------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "reason"), REFUSAL_CASES)
async def test_password_change_refuses_the_new_password_and_says_why(
    client, make_user, auth_headers, password, reason
):
    user = await make_user(EMAIL)

    response = await _change_password(client, await auth_headers(user), password)

    assert reason in _refusal_reason(response, "new_password")


async def test_a_refused_password_change_keeps_the_old_password(client, make_user, auth_headers):
    user = await make_user(EMAIL)
    await _change_password(client, await auth_headers(user), "password123")

    response = await attempt_login(client, EMAIL)

    assert response.status_code == 200, response.text


# --- create-admin -----------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "reason"), REFUSAL_CASES)
def test_create_admin_refuses_the_password_and_says_why(cli_environment, password, reason):
    result = runner.invoke(cli, ["create-admin", "--email", EMAIL, "--password", password])

    assert result.exit_code == 1, result.output
    assert "Password refused" in result.output
    assert reason in result.output
    assert not _user_exists(cli_environment, EMAIL)


def test_create_admin_applies_the_configured_minimum_length(monkeypatch, cli_environment):
    monkeypatch.setenv("PASSWORD_MIN_LENGTH", "12")

    result = runner.invoke(cli, ["create-admin", "--email", EMAIL, "--password", "eleven char"])

    assert result.exit_code == 1, result.output
    assert "at least 12 characters" in result.output
    assert not _user_exists(cli_environment, EMAIL)


# --- Oversized passwords are refused before any hashing ----------------------------------------


def _spy_on_hashing(app, monkeypatch) -> list[AsyncMock]:
    """Wrap every hashing entry point of the app's hasher, to record calls from now on."""
    hasher = app.state.password_hasher
    spies = []
    for name in ("hash", "verify_and_update", "verify_dummy"):
        spy = AsyncMock(wraps=getattr(hasher, name))
        monkeypatch.setattr(hasher, name, spy)
        spies.append(spy)
    return spies


def _assert_nothing_hashed(spies: list[AsyncMock]) -> None:
    for spy in spies:
        spy.assert_not_awaited()


async def test_a_10_kb_password_is_refused_at_registration_without_hashing(
    app, client, monkeypatch
):
    hasher_spies = _spy_on_hashing(app, monkeypatch)

    response = await _register(client, TEN_KB)

    _refusal_reason(response, "password")
    _assert_nothing_hashed(hasher_spies)


async def test_a_10_kb_password_is_refused_at_login_without_hashing(
    app, client, make_user, monkeypatch
):
    user = await make_user()
    hasher_spies = _spy_on_hashing(app, monkeypatch)

    response = await attempt_login(client, user.email, TEN_KB)

    _refusal_reason(response, "password")
    _assert_nothing_hashed(hasher_spies)


async def test_a_10_kb_password_is_refused_at_password_change_without_hashing(
    app, client, make_user, auth_headers, monkeypatch
):
    user = await make_user()
    hasher_spies = _spy_on_hashing(app, monkeypatch)

    response = await client.post(
        "/users/me/password",
        headers=await auth_headers(user),
        json={"current_password": TEN_KB, "new_password": TEN_KB},
    )

    assert response.status_code == 422, response.text
    assert {tuple(error["loc"]) for error in response.json()["errors"]} == {
        ("body", "current_password"),
        ("body", "new_password"),
    }
    _assert_nothing_hashed(hasher_spies)
