"""Logins that race: a burst on one account, and a login still checking a password while the
account's sessions are ended. (Security review, items 3 and 7.)"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from app.auth.models import AuthSession
from tests.helpers import (
    PASSWORD,
    WRONG_PASSWORD,
    attempt_login,
    bearer,
    end_read,
    login,
    postgres_only,
)


class HeldVerification:
    """The app's password check, held open on its first `held` calls until the test releases
    them: logins that have read the account and are still checking the password."""

    def __init__(self, hasher: Any, monkeypatch: pytest.MonkeyPatch, held: int = 1) -> None:
        self._verify = hasher.verify_and_update
        self._held = held
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0
        monkeypatch.setattr(hasher, "verify_and_update", self)

    async def __call__(self, password: str, hashed: str) -> tuple[bool, str | None]:
        self.calls += 1
        if self.calls <= self._held:
            self.started.set()
            await self.release.wait()
        return await self._verify(password, hashed)


async def test_a_burst_of_wrong_passwords_checks_no_more_than_the_limit(
    app, client, make_user, settings, clock, monkeypatch
):
    user = await make_user()
    hasher = app.state.password_hasher
    checked = 0
    verify = hasher.verify_and_update

    async def counting(password: str, hashed: str) -> tuple[bool, str | None]:
        nonlocal checked
        checked += 1
        return await verify(password, hashed)

    monkeypatch.setattr(hasher, "verify_and_update", counting)

    responses = await asyncio.gather(
        *(attempt_login(client, user.email, WRONG_PASSWORD) for _ in range(20))
    )

    assert checked == settings.login_max_failures
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * settings.login_max_failures + [429] * (
        20 - settings.login_max_failures
    )


@postgres_only
async def test_the_right_password_after_a_burst_has_used_the_budget_is_refused(
    app, client, make_user, settings, clock, monkeypatch
):
    # The wrong passwords are still being checked when the right one arrives: it is over the
    # budget of the window, and is refused without being checked.
    user = await make_user()
    held = HeldVerification(
        app.state.password_hasher, monkeypatch, held=settings.login_max_failures
    )
    burst = [
        asyncio.create_task(attempt_login(client, user.email, WRONG_PASSWORD))
        for _ in range(settings.login_max_failures)
    ]
    await held.started.wait()
    await _wait_for_counted(app, user.email, settings.login_max_failures)

    right = await attempt_login(client, user.email, PASSWORD)
    held.release.set()
    await asyncio.gather(*burst)

    assert right.status_code == 429, right.text
    assert held.calls == settings.login_max_failures


async def _wait_for_counted(app: Any, email: str, attempts: int) -> None:
    from app.auth.models import LoginThrottle

    async with app.state.database.sessionmaker() as session:
        for _ in range(500):
            count = await session.scalar(
                select(LoginThrottle.failure_count).where(LoginThrottle.email == email)
            )
            await end_read(session)
            if count == attempts:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"{attempts} attempts were never counted")


# --- A login in flight while the account's sessions are ended ---------------------------------

EndSessions = Callable[[Any, Any, Any], Awaitable[None]]


async def _change_password(client: Any, user: Any, admin_headers: Any) -> None:
    tokens = await login(client, user.email)
    response = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": "an entirely new passphrase"},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 204, response.text


async def _log_out_everywhere(client: Any, user: Any, admin_headers: Any) -> None:
    tokens = await login(client, user.email)
    response = await client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204, response.text


async def _deactivate_and_reactivate(client: Any, user: Any, admin_headers: Any) -> None:
    for is_active in (False, True):
        response = await client.patch(
            f"/users/{user.id}", json={"is_active": is_active}, headers=admin_headers
        )
        assert response.status_code == 200, response.text


async def _admin_ends_sessions(client: Any, user: Any, admin_headers: Any) -> None:
    response = await client.delete(f"/users/{user.id}/sessions", headers=admin_headers)
    assert response.status_code == 204, response.text


@postgres_only
@pytest.mark.parametrize(
    "end_sessions",
    [_change_password, _log_out_everywhere, _deactivate_and_reactivate, _admin_ends_sessions],
    ids=["password change", "logout-all", "deactivation", "admin ends sessions"],
)
async def test_a_login_checking_the_password_while_sessions_end_gets_a_dead_session(
    app, client, make_user, auth_headers, monkeypatch, end_sessions: EndSessions
):
    user = await make_user()
    admin_headers = await auth_headers(await make_user(roles=["admin"]))
    held = HeldVerification(app.state.password_hasher, monkeypatch)
    in_flight = asyncio.create_task(attempt_login(client, user.email, PASSWORD))
    await held.started.wait()

    await end_sessions(client, user, admin_headers)
    held.release.set()
    response = await in_flight

    assert response.status_code == 200, response.text  # it read the old credentials
    tokens = response.json()
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401, me.text
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401, refreshed.text


async def test_a_session_older_than_the_users_credentials_is_dead(client, session, make_user):
    # What a login in flight leaves behind, on every back end: a session holding the
    # credentials version from before the change.
    user = await make_user()
    tokens = await login(client, user.email)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id)
        .values(credentials_version=AuthSession.credentials_version - 1)
    )
    await session.commit()

    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    sessions = await client.get("/auth/sessions", headers=bearer(tokens["access_token"]))

    assert (me.status_code, refreshed.status_code, sessions.status_code) == (401, 401, 401)


async def test_ending_sessions_moves_the_credentials_version(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    await client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))

    await session.refresh(user)
    assert user.credentials_version == 1
