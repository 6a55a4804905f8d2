"""The bench's reference app (bench/reference_app.py) answers /me exactly as py-auth answers
/users/me: otherwise the bench would compare two different things.

The reference app runs raw asyncpg, so the comparisons run on PostgreSQL only
(TEST_DATABASE_URL); on SQLite they are skipped with that reason."""

import importlib.util
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers import ON_POSTGRES, TEST_SECRET

REFERENCE_APP = Path(__file__).resolve().parents[2] / "bench" / "reference_app.py"

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="the bench's reference app runs raw asyncpg (PostgreSQL only): set TEST_DATABASE_URL",
)


def _load_reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_reference_app", REFERENCE_APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    return _load_reference_module()


@pytest.fixture
async def reference_client(
    reference: ModuleType, settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The reference app on the test database, with the test JWT secret and pool settings."""
    reference_app = reference.create_app(
        settings.database_url,
        TEST_SECRET,
        jwt_algorithm=settings.jwt_algorithm,
        jwt_issuer=settings.jwt_issuer,
        jwt_audience=settings.jwt_audience,
        pool_size=2,
        max_overflow=0,
    )
    async with reference_app.router.lifespan_context(reference_app):
        transport = httpx.ASGITransport(app=reference_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reference") as http:
            yield http


@postgres_only
@pytest.mark.parametrize(
    ("roles", "full_name"),
    [
        (["viewer"], None),
        (["viewer", "editor"], "Ada Lovelace"),
        (["admin"], "Grace Hopper"),
        ([], "No Roles"),
    ],
)
async def test_reference_me_equals_users_me(
    client, reference_client, make_user, auth_headers, roles, full_name
):
    user = await make_user(roles=roles, full_name=full_name)
    headers = auth_headers(user)

    real = await client.get("/users/me", headers=headers)
    floor = await reference_client.get("/me", headers=headers)

    assert real.status_code == 200, real.text
    assert floor.status_code == 200, floor.text
    assert floor.json() == real.json()


@postgres_only
async def test_reference_refuses_what_py_auth_refuses(
    client, reference_client, make_user, auth_headers
):
    inactive = await make_user(is_active=False)
    headers = auth_headers(inactive)

    for response in (
        await client.get("/users/me", headers=headers),
        await reference_client.get("/me", headers=headers),
        await client.get("/users/me", headers={"Authorization": "Bearer not-a-jwt"}),
        await reference_client.get("/me", headers={"Authorization": "Bearer not-a-jwt"}),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"


def test_reference_writes_timestamps_as_pydantic_does(reference):
    from pydantic import TypeAdapter

    adapter = TypeAdapter(datetime)
    for value in (
        datetime(2026, 11, 25, 14, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 14, 30, 5, 4000, tzinfo=UTC),
    ):
        assert reference.iso_utc(value) == adapter.dump_python(value, mode="json")
