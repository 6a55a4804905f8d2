import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.helpers import issue_access_token, make_settings

# Nothing listens on port 1: every connection attempt is refused at once.
UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/unreachable"


@pytest.fixture
async def client_without_database() -> AsyncIterator[httpx.AsyncClient]:
    app: Any = create_app(make_settings(UNREACHABLE_DATABASE, db_timeout_seconds=2))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http
    await app.state.database.dispose()


async def test_health_answers_ok(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_answers_ok_without_a_database(client_without_database):
    response = await client_without_database.get("/health")
    assert response.status_code == 200


async def test_ready_answers_ok_when_the_database_answers(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_answers_503_in_the_error_format_when_the_database_is_down(
    client_without_database,
):
    response = await client_without_database.get("/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


async def test_an_api_call_answers_503_when_the_database_is_down(app, client_without_database):
    # Issued by the test app: the app without a database cannot read its signing keys.
    token = issue_access_token(app.state.access_tokens, 1, uuid.uuid4())
    response = await client_without_database.get(
        "/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The service is temporarily unavailable; try again shortly.",
        "code": "service_unavailable",
    }


async def test_docs_and_openapi_are_served(client):
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "py-auth"
