"""Helpers shared by the tests (fixtures live in conftest.py)."""

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.config import Config

from alembic import command
from app.core.config import Settings

BACKEND_DIR = Path(__file__).resolve().parents[1]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
SEED_TABLES = ("permissions", "roles", "role_permissions")
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
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
