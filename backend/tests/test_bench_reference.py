"""The bench's reference app (bench/reference_app.py) answers /me exactly as py-auth answers
/users/me, with the very same query: otherwise `make bench` would compare two different things.

The reference app runs raw asyncpg, so the comparisons run on PostgreSQL only
(TEST_DATABASE_URL); on SQLite they are skipped with that reason."""

import importlib.util
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from app.core.security import ACCESS_TOKEN_KEY_PURPOSE, derive_key
from tests.helpers import ON_POSTGRES, PASSWORD, TEST_SECRET, bearer, login

REFERENCE_APP = Path(__file__).resolve().parents[2] / "bench" / "reference_app.py"

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="the bench's reference app runs raw asyncpg (PostgreSQL only): set TEST_DATABASE_URL",
)


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_reference_app", REFERENCE_APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def reference_client(
    reference: ModuleType, settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The reference app on the test database, with the test JWT secret."""
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


def _normalized(sql: str) -> str:
    sql = re.sub(r"(\$\d+)::\w+", r"\1", sql)  # SQLAlchemy's casts of parameters
    sql = re.sub(r" AS name_1\b", "", sql)  # its label of the second `name` column
    return " ".join(sql.split())


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
    headers = await auth_headers(user)

    real = await client.get("/users/me", headers=headers)
    floor = await reference_client.get("/me", headers=headers)

    assert real.status_code == 200, real.text
    assert floor.status_code == 200, floor.text
    assert floor.json() == real.json()


@postgres_only
async def test_reference_me_equals_users_me_with_a_login_token(
    client, reference_client, make_user, statements, reference
):
    """What the bench sends: access tokens from real logins, and the query they cause."""
    user = await make_user(roles=["editor", "viewer"], full_name="Logged In")
    tokens = await login(client, user.email, PASSWORD)
    headers = bearer(tokens["access_token"])

    statements.clear()
    real = await client.get("/users/me", headers=headers)
    sent_by_py_auth = list(statements)
    floor = await reference_client.get("/me", headers=headers)

    assert real.status_code == 200, real.text
    assert floor.status_code == 200, floor.text
    assert floor.json() == real.json()
    principal_queries = [sql for sql in sent_by_py_auth if "JOIN user_roles" in sql]
    assert len(principal_queries) == 1, sent_by_py_auth
    assert _normalized(principal_queries[0]) == _normalized(reference.ME_SQL), (
        "load_principal's query changed: update ME_SQL in bench/reference_app.py"
    )


@postgres_only
async def test_reference_refuses_what_py_auth_refuses(
    client, reference_client, make_user, auth_headers
):
    inactive = await make_user(is_active=False)
    for headers in (await auth_headers(inactive), {"Authorization": "Bearer not-a-jwt"}):
        real = await client.get("/users/me", headers=headers)
        floor = await reference_client.get("/me", headers=headers)
        assert (real.status_code, floor.status_code) == (401, 401)
        assert real.json()["code"] == floor.json()["code"] == "invalid_token"


def test_reference_verifies_with_py_auths_signing_key(reference):
    for secret in (TEST_SECRET, "x" * 32, "\u00e9" * 40):
        assert reference.access_token_key(secret) == derive_key(secret, ACCESS_TOKEN_KEY_PURPOSE)


def test_reference_writes_timestamps_as_pydantic_does(reference):
    adapter = TypeAdapter(datetime)
    for value in (
        datetime(2026, 11, 25, 14, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 14, 30, 5, 4000, tzinfo=UTC),
    ):
        assert reference.iso_utc(value) == adapter.dump_python(value, mode="json")
