"""Helpers shared by the tests (fixtures live in conftest.py)."""

import os
import tempfile
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
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

import app.core.clock as app_clock
from alembic import command
from app.auth.models import User
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.security import ACCESS_TOKEN_KEY_PURPOSE, AccessTokenCodec, derive_key
from app.main import create_app

BACKEND_DIR = Path(__file__).resolve().parents[1]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
SEED_TABLES = ("permissions", "roles", "role_permissions")
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
# What the service signs access tokens with: a key derived from the secret, not the secret.
TEST_ACCESS_TOKEN_KEY = derive_key(TEST_SECRET, ACCESS_TOKEN_KEY_PURPOSE)
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "not the right password"

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


# One folder per test process: a test's mail is read from it (tests/mailbox.py).
MAIL_FOLDER = Path(tempfile.mkdtemp(prefix="pyauth-mail-"))


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: no .env, cheap Argon2 (the defaults stay pwdlib's)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "auth_rate_limit": "",  # tests of the per-IP limit turn it on
        # Mail goes to a folder of this run (the `mailbox` fixture reads it), never backend/var.
        "mail_url": f"file://{MAIL_FOLDER}",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def run_migrations(database_url: str, revision: str = "head", *, downgrade: bool = False) -> None:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    (command.downgrade if downgrade else command.upgrade)(config, revision)


async def attempt_login(
    http: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    form: dict[str, str] | None = None,
    **request: Any,
) -> httpx.Response:
    """POST /auth/login as the login form sends it: the answer, whatever it is. `form`: more
    fields of the form (`{"grant_type": "password"}`); `request`: more arguments of the
    request (`headers=...`)."""
    data = {"username": email, "password": password, **(form or {})}
    return await http.post("/auth/login", data=data, **request)


async def login(
    http: httpx.AsyncClient, email: str, password: str = PASSWORD, **request: Any
) -> dict[str, Any]:
    """A login that must succeed: its tokens."""
    response = await attempt_login(http, email, password, **request)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The API refused with this status and this error code."""
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def assert_401(response: httpx.Response, code: str) -> None:
    """A 401 with this error code and a Bearer challenge."""
    assert_error(response, 401, code)
    assert response.headers["WWW-Authenticate"].partition(" ")[0] == "Bearer"


SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def assert_security_headers(response: httpx.Response) -> None:
    """The headers that every response of the API carries, error or not."""
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


async def end_read(session: AsyncSession) -> None:
    """End the session's transaction after a read, keeping what it loaded: on SQLite an open
    transaction holds the lock that the API's next write waits for."""
    unsaved = [*session.new, *session.dirty, *session.deleted]
    assert unsaved == [], f"end_read() is for reads, not for writing {unsaved}"
    await session.commit()


async def fetch_user(session: AsyncSession, user_id: int) -> User | None:
    """The user as the database holds it now, with roles."""
    user: User | None = await session.scalar(
        select(User)
        .options(selectinload(User.roles))
        .where(User.id == user_id)
        .execution_options(populate_existing=True)
    )
    await end_read(session)
    return user


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def issue_access_token(codec: AccessTokenCodec, user_id: int, session_id: uuid.UUID) -> str:
    """An access token as a password login issues it: authenticated now, by password."""
    return codec.issue(user_id, session_id=session_id, auth_time=utcnow(), amr=("pwd",))


# forge_access_token's default: the key the app signs with now.
APP_KEY: Any = object()


def forge_access_token(
    app: FastAPI,
    user_id: int,
    *,
    session_id: uuid.UUID,
    key: Any = APP_KEY,
    algorithm: str | None = None,
    typ: Any = "at+jwt",
    kid: Any = APP_KEY,
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> str:
    """An access token built by hand: by default exactly what the app would issue for that
    session (`make_session`), signed with the key it signs with now (the active signing key,
    or the HMAC key derived from the secret) and naming that key in `kid`. `typ` and `kid`
    are the header's (any JSON value; None leaves it out), `headers` more of it; `drop`
    leaves claims out, and keyword arguments replace claims (`sid=5`)."""
    settings: Settings = app.state.settings
    keys = app.state.access_tokens.keys
    signer = keys.signing_key(utcnow()) if keys is not None else None
    if key is APP_KEY:
        key = signer.private_key if signer is not None else TEST_ACCESS_TOKEN_KEY
    if kid is APP_KEY:
        kid = signer.kid if signer is not None else None
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "iss": settings.token_issuer,
        "aud": settings.jwt_audience,
        "type": "access",
        "auth_time": int(now.timestamp()),
        "amr": ["pwd"],
        **overrides,
    }
    for name in drop:
        del claims[name]
    header = {
        **({"typ": typ} if typ is not None else {}),
        **({"kid": kid} if kid is not None else {}),
        **(headers or {}),
    }
    return jwt.encode(claims, key, algorithm=algorithm or settings.jwt_algorithm, headers=header)


class Clock:
    """Stands in for the app's clock (app.core.clock): time moves only when a test says so.
    `behind`: it starts that long before now, until `advance_to_the_present()`."""

    def __init__(self, *, behind: timedelta = timedelta()) -> None:
        self.behind = behind
        self.now = utcnow() - behind

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def advance_to_the_present(self) -> None:
        self.now += self.behind

    def time(self) -> float:
        """Now in seconds since the epoch, for code that reads `time.time()`."""
        return self.now.timestamp()


def freeze_clock(monkeypatch: pytest.MonkeyPatch, *, behind: timedelta = timedelta()) -> Clock:
    """Stop the app's clock at now, or `behind` now (until the test ends)."""
    clock = Clock(behind=behind)
    monkeypatch.setattr(app_clock, "_source", clock)
    return clock


@asynccontextmanager
async def fresh_app(database_url: str, **overrides: Any) -> AsyncIterator[FastAPI]:
    """An app of its own, with these settings, on the test database."""
    application = create_app(make_settings(database_url, **overrides))
    try:
        await load_signing_keys(application)
        yield application
    finally:
        await application.state.database.dispose()


async def load_signing_keys(app: FastAPI) -> None:
    """Read the app's key set (made if there is none), as its lifespan does when served."""
    if app.state.access_tokens.keys is not None:
        await app.state.access_tokens.keys.ensure_loaded()


def client_of(app: FastAPI, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    """An HTTP client of this app whose requests come from the socket address `peer`."""
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def process_environment(database_url: str) -> dict[str, str]:
    """The environment that configures py-auth in a process of its own (the CLI, a server):
    this database, the test secret, cheap Argon2."""
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
    }


def set_cli_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, **settings: str
) -> None:
    """The environment `python -m app.cli` reads: this database, cheap Argon2, and `settings`
    (the `cli_environment` fixture)."""
    environment = {
        **process_environment(database_url),
        **{name.upper(): value for name, value in settings.items()},
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
