"""Fixtures of the second factor: a user with an authenticator, and codes from it."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
import pytest

from app.auth.models import User
from tests.helpers import PASSWORD, Clock, bearer, login

MFA_STEP_SECONDS = 30


@dataclass
class Enrolled:
    """A user whose authenticator is confirmed, and the device that holds its secret."""

    user: User
    secret: str
    recovery_codes: list[str]
    access_token: str  # of the session that enrolled (still live)
    clock: Clock
    used: set[int] = field(default_factory=set)

    def code(self) -> str:
        """A code of the current step, as the authenticator app shows it."""
        return pyotp.TOTP(self.secret).at(self.clock.now)

    def next_code(self) -> str:
        """A code of the next step: the clock moves on 30 s, so the code was never used."""
        self.clock.advance(seconds=MFA_STEP_SECONDS)
        return self.code()


Enroll = Callable[..., Awaitable[Enrolled]]


async def start_enrollment(client: httpx.AsyncClient, access_token: str) -> dict[str, Any]:
    response = await client.post("/users/me/mfa/totp", headers=bearer(access_token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def enroll(client: httpx.AsyncClient, make_user: Any, clock: Clock) -> Enroll:
    """`await enroll()` (or `enroll(user)`): a user with a confirmed authenticator, on the
    stopped app clock (`clock`), so that codes come from known time steps."""

    async def factory(user: User | None = None, **user_fields: Any) -> Enrolled:
        user = user or await make_user(**user_fields)
        access_token = (await login(client, user.email, PASSWORD))["access_token"]
        secret = (await start_enrollment(client, access_token))["secret"]
        code = pyotp.TOTP(secret).at(clock.now)
        confirmed = await client.post(
            "/users/me/mfa/totp/confirm", json={"code": code}, headers=bearer(access_token)
        )
        assert confirmed.status_code == 200, confirmed.text
        return Enrolled(user, secret, confirmed.json()["recovery_codes"], access_token, clock)

    return factory


async def start_mfa_login(client: httpx.AsyncClient, email: str, **request: Any) -> str:
    """The first step of a login of an account with MFA: its mfa_token."""
    response = await client.post(
        "/auth/login", data={"username": email, "password": PASSWORD}, **request
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "mfa_required"
    token: str = response.json()["mfa_token"]
    return token


async def verify(client: httpx.AsyncClient, mfa_token: str, **factor: str) -> httpx.Response:
    return await client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, **factor})
