"""Every error is {detail: str, code: str} (plus documented extras), and every response,
error or not, carries a request id and the security headers."""

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.helpers import assert_security_headers, make_settings

GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
SECRET_MESSAGE = "database password is hunter2"


def assert_error_body(response: Any, status: int, code: str, extra: frozenset[str] = frozenset()):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code", *extra}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["code"] == code
    return body


@pytest.fixture
async def failing_app(database_url: str) -> AsyncIterator[Any]:
    """A fresh app with one extra route that fails with an unexpected exception."""
    application = create_app(make_settings(database_url))

    @application.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET_MESSAGE)

    yield application
    await application.state.database.dispose()


@pytest.fixture
async def failing_client(failing_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: the response is what a real client would get, even if the
    # app re-raised after answering.
    transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_401_without_a_token(client):
    response = await client.get("/articles")

    assert_error_body(response, 401, "not_authenticated")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    # RFC 6750 §3.1: a request without credentials gets no error code.
    assert "error=" not in challenge


async def test_401_with_a_malformed_token(client):
    response = await client.get("/articles", headers={"Authorization": "Bearer not-a-jwt"})

    assert_error_body(response, 401, "invalid_token")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge


async def test_403_names_the_missing_permission(client, make_user, auth_headers):
    viewer = await make_user(roles=["viewer"])

    response = await client.post(
        "/articles", json={"title": "T"}, headers=await auth_headers(viewer)
    )

    body = assert_error_body(response, 403, "permission_denied", frozenset({"missing"}))
    assert "create_article" in body["detail"]
    assert body["missing"] == ["create_article"]


async def test_404_for_an_unknown_route(client):
    response = await client.get("/no/such/route")

    assert_error_body(response, 404, "not_found")


async def test_404_for_an_unknown_id(client, make_user, auth_headers):
    viewer = await make_user(roles=["viewer"])

    response = await client.get("/articles/424242", headers=await auth_headers(viewer))

    body = assert_error_body(response, 404, "not_found")
    assert body["detail"] == "Article not found."


async def test_405_for_a_method_the_route_does_not_allow(client):
    response = await client.delete("/health")

    assert_error_body(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"


async def test_409_for_a_conflict(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/roles", json={"name": "viewer", "permissions": []}, headers=await auth_headers(admin)
    )

    assert_error_body(response, 409, "conflict")


async def test_422_lists_each_invalid_field(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await client.post(
        "/articles", json={"title": "", "body": 7}, headers=await auth_headers(editor)
    )

    body = assert_error_body(response, 422, "validation_error", frozenset({"errors"}))
    assert sorted(tuple(error["loc"]) for error in body["errors"]) == [
        ("body", "body"),
        ("body", "title"),
    ]
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}
        assert isinstance(error["msg"], str)
        assert isinstance(error["type"], str)


async def test_422_for_a_malformed_json_body(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await client.post(
        "/articles",
        content=b'{"title": "unterminated',
        headers={**await auth_headers(editor), "Content-Type": "application/json"},
    )

    body = assert_error_body(response, 422, "validation_error", frozenset({"errors"}))
    assert body["errors"][0]["type"] == "json_invalid"


async def test_500_is_a_generic_error_without_a_traceback(failing_client):
    response = await failing_client.get("/boom")

    assert_error_body(response, 500, "internal_error")
    for leak in ("Traceback", "RuntimeError", SECRET_MESSAGE, "boom"):
        assert leak not in response.text


async def test_500_carries_a_request_id(failing_client):
    response = await failing_client.get("/boom", headers={"X-Request-ID": "trace-500"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "trace-500"


async def test_500_is_logged_with_its_traceback(failing_client, caplog):
    with caplog.at_level("ERROR", logger="app.request"):
        await failing_client.get("/boom")

    (record,) = [r for r in caplog.records if r.name == "app.request"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_request_id_is_generated_when_none_is_sent(client):
    response = await client.get("/health")

    assert GENERATED_REQUEST_ID.match(response.headers["X-Request-ID"])


async def test_request_id_echoes_a_sane_caller_value(client):
    response = await client.get("/health", headers={"X-Request-ID": "req-42_abc.DEF"})

    assert response.headers["X-Request-ID"] == "req-42_abc.DEF"


async def test_request_id_is_also_echoed_on_errors(client):
    response = await client.get("/articles", headers={"X-Request-ID": "req-401"})

    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "req-401"


@pytest.mark.parametrize(
    "insane",
    [
        pytest.param("has spaces in it", id="spaces"),
        pytest.param("x" * 300, id="300-chars"),
        pytest.param("x" * 129, id="129-chars"),
        pytest.param("", id="empty"),
        pytest.param("<script>", id="markup"),
        pytest.param("a;b=c", id="separators"),
    ],
)
async def test_request_id_replaces_an_insane_caller_value(client, insane):
    response = await client.get("/health", headers={"X-Request-ID": insane})

    assert response.headers["X-Request-ID"] != insane
    assert GENERATED_REQUEST_ID.match(response.headers["X-Request-ID"])


async def test_request_id_with_a_trailing_newline_is_replaced(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc\n"})

    assert GENERATED_REQUEST_ID.match(response.headers["X-Request-ID"])


async def test_security_headers_on_a_200(client):
    response = await client.get("/health")

    assert response.status_code == 200
    assert_security_headers(response)


async def test_security_headers_on_a_401(client):
    response = await client.get("/articles")

    assert response.status_code == 401
    assert_security_headers(response)


async def test_security_headers_on_a_422(client, make_user, auth_headers):
    viewer = await make_user(roles=["viewer"])

    response = await client.get(
        "/articles", params={"limit": 0}, headers=await auth_headers(viewer)
    )

    assert response.status_code == 422
    assert_security_headers(response)


async def test_security_headers_on_a_500(failing_client):
    response = await failing_client.get("/boom")

    assert response.status_code == 500
    assert_security_headers(response)
