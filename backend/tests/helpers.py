"""Helpers shared by the tests (fixtures live in conftest.py)."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from alembic.config import Config
from fastapi import FastAPI

import app.core.clock as app_clock
from alembic import command
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.security import ACCESS_TOKEN_KEY_PURPOSE, derive_key
from app.main import create_app

BACKEND_DIR = Path(__file__).resolve().parents[1]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
SEED_TABLES = ("permissions", "roles", "role_permissions")
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
# What the service signs access tokens with: a key derived from the secret, not the secret.
TEST_ACCESS_TOKEN_KEY = derive_key(TEST_SECRET, ACCESS_TOKEN_KEY_PURPOSE)
PASSWORD = "correct horse battery staple"

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: no .env, cheap Argon2 (the defaults stay pwdlib's)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "auth_rate_limit": "",  # tests of the per-IP limit turn it on
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def run_migrations(database_url: str, revision: str = "head", *, downgrade: bool = False) -> None:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    (command.downgrade if downgrade else command.upgrade)(config, revision)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def forge_access_token(
    settings,
    user_id: int,
    *,
    session_id: uuid.UUID,
    key: str | bytes | None = TEST_ACCESS_TOKEN_KEY,
    algorithm: str = "HS256",
    typ: Any = "at+jwt",
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> str:
    """An access token built by hand: by default exactly what the service would issue for
    that session (`make_session`). `typ` is the header's (any JSON value; None leaves it out);
    `drop` leaves claims out, and keyword arguments replace claims (`sid=5`)."""
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "type": "access",
        **overrides,
    }
    for name in drop:
        del claims[name]
    headers = {"typ": typ} if typ is not None else {}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


class Clock:
    """Stands in for the app's clock (app.core.clock): time moves only when a test says so."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def freeze_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Stop the app's clock at now (until the test ends)."""
    clock = Clock()
    monkeypatch.setattr(app_clock, "_source", clock)
    return clock


@asynccontextmanager
async def fresh_app(database_url: str, **overrides: Any) -> AsyncIterator[FastAPI]:
    """An app of its own, with these settings, on the test database."""
    application = create_app(make_settings(database_url, **overrides))
    try:
        yield application
    finally:
        await application.state.database.dispose()


def client_of(app: FastAPI, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    """An HTTP client of this app whose requests come from the socket address `peer`."""
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def set_cli_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, **settings: str
) -> None:
    """The environment `python -m app.cli` reads: this database, cheap Argon2, and `settings`."""
    environment = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        **{name.upper(): value for name, value in settings.items()},
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
