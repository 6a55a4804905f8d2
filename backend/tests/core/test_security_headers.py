"""What protects every response and request beyond the error format: the security headers on
the refusals tests/core/test_errors.py does not cover, HSTS when enabled, the limit on the
request body (MAX_BODY_BYTES) and CORS for the configured origins only."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers import (
    PASSWORD,
    WRONG_PASSWORD,
    assert_security_headers,
    attempt_login,
    client_of,
    fresh_app,
)

ALLOWED_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example.com"
HSTS = "Strict-Transport-Security"


def _chunks(size: int, chunk: int = 1000) -> AsyncIterator[bytes]:
    """A body of `size` bytes sent without Content-Length (Transfer-Encoding: chunked)."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, size, chunk):
            yield b" " * min(chunk, size - start)

    return chunks()


def _assert_payload_too_large(response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "detail": "The request body is too large.",
        "code": "payload_too_large",
    }


@pytest.fixture
async def cors_app(database_url, clean_database) -> AsyncIterator[Any]:
    """An app that lets ALLOWED_ORIGIN call it from a browser."""
    async with fresh_app(database_url, cors_origins=ALLOWED_ORIGIN) as application:
        yield application


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


# --- Security headers on more refusals -----------------------------------------------------------


async def test_security_headers_on_a_403(client, make_user, auth_headers):
    viewer = await make_user(roles=["viewer"])

    response = await client.post(
        "/articles", json={"title": "T"}, headers=await auth_headers(viewer)
    )

    assert response.status_code == 403
    assert_security_headers(response)


async def test_security_headers_on_a_429(client, make_user, settings, clock):
    user = await make_user()
    for _ in range(settings.login_max_failures + 1):
        response = await attempt_login(client, user.email, WRONG_PASSWORD)

    assert response.status_code == 429
    assert_security_headers(response)


async def test_security_headers_on_a_413(client):
    response = await client.post("/auth/register", content=b" " * (64 * 1024 + 1))

    assert response.status_code == 413
    assert_security_headers(response)


async def test_the_docs_page_gets_a_csp_that_lets_it_run(client):
    response = await client.get("/docs")

    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: sources for name, *sources in (directive.split() for directive in policy.split(";"))
    }


@pytest.mark.parametrize("path", ["/ui/", "/ui/js/app.js", "/ui/app.css"])
async def test_the_console_gets_a_csp_of_its_own_without_inline_code(client, path):
    """The console has no inline script, event handler or style attribute: its policy lets
    none run, so markup injected into it stays inert (the docs need 'unsafe-inline')."""
    response = await client.get(path)

    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    directives = _directives(policy)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", ["/uiX", "/ui.js", "/docsX", "/redocs", "/statics/x"])
async def test_a_path_that_only_begins_like_a_page_gets_the_apis_csp(client, path):
    response = await client.get(path)

    assert response.status_code == 404
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


# --- HSTS ----------------------------------------------------------------------------------------


async def test_hsts_is_not_sent_by_default(client):
    response = await client.get("/health")

    assert HSTS not in response.headers


async def test_hsts_is_sent_when_enabled(database_url):
    async with (
        fresh_app(database_url, hsts_enabled=True) as application,
        client_of(application) as http,
    ):
        response = await http.get("/health")

    assert response.headers[HSTS] == "max-age=31536000; includeSubDomains"


async def test_hsts_is_sent_on_errors_too_when_enabled(database_url):
    async with (
        fresh_app(database_url, hsts_enabled=True) as application,
        client_of(application) as http,
    ):
        response = await http.get("/users/me")

    assert response.status_code == 401
    assert HSTS in response.headers


# --- The body limit ------------------------------------------------------------------------------


async def test_a_declared_body_over_max_body_bytes_gets_413(client, settings):
    response = await client.post(
        "/auth/register",
        content=b" " * (settings.max_body_bytes + 1),
        headers={"Content-Type": "application/json"},
    )

    _assert_payload_too_large(response)


async def test_a_body_of_exactly_max_body_bytes_is_read(client, settings):
    body = b'{"email": "alice@example.com", "password": "' + PASSWORD.encode() + b'"}'
    padded = body + b" " * (settings.max_body_bytes - len(body))

    response = await client.post(
        "/auth/register", content=padded, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text


async def test_a_chunked_body_under_the_limit_is_read(client):
    body = b'{"email": "alice@example.com", "password": "' + PASSWORD.encode() + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    response = await client.post(
        "/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text


async def test_a_chunked_body_over_the_limit_read_by_the_route_gets_413(client, settings):
    # /auth/refresh reads its body itself (JSON or form).
    response = await client.post(
        "/auth/refresh",
        content=_chunks(settings.max_body_bytes + 1),
        headers={"Content-Type": "application/json"},
    )

    _assert_payload_too_large(response)


async def test_a_chunked_body_over_the_limit_parsed_as_a_model_gets_413(client, settings):
    response = await client.post(
        "/auth/register",
        content=_chunks(settings.max_body_bytes + 1),
        headers={"Content-Type": "application/json"},
    )

    _assert_payload_too_large(response)


async def test_an_http2_body_over_the_limit_without_a_length_gets_413(app, settings):
    """HTTP/2 frames a body with neither Content-Length nor Transfer-Encoding."""
    chunks = [b" " * 1000] * (settings.max_body_bytes // 1000 + 2)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(), "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "POST",
        "scheme": "https",
        "path": "/auth/refresh",
        "raw_path": b"/auth/refresh",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 443),
    }
    await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413


async def test_max_body_bytes_sets_the_limit(database_url):
    async with (
        fresh_app(database_url, max_body_bytes=2048) as application,
        client_of(application) as http,
    ):
        response = await http.post(
            "/auth/register", content=b" " * 2049, headers={"Content-Type": "application/json"}
        )

    _assert_payload_too_large(response)


# --- CORS ----------------------------------------------------------------------------------------


async def test_a_preflight_from_an_allowed_origin_is_allowed(cors_app):
    async with client_of(cors_app) as http:
        response = await http.options("/auth/login", headers=_preflight(ALLOWED_ORIGIN))

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


async def test_a_preflight_from_another_origin_is_refused(cors_app):
    async with client_of(cors_app) as http:
        response = await http.options("/auth/login", headers=_preflight(OTHER_ORIGIN))

    assert response.status_code == 400
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_response_to_an_allowed_origin_lets_the_browser_read_it(cors_app):
    async with client_of(cors_app) as http:
        response = await http.get("/health", headers={"Origin": ALLOWED_ORIGIN})

    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


async def test_a_response_to_another_origin_does_not_let_the_browser_read_it(cors_app):
    async with client_of(cors_app) as http:
        response = await http.get("/health", headers={"Origin": OTHER_ORIGIN})

    assert "Access-Control-Allow-Origin" not in response.headers


async def test_without_cors_origins_no_origin_is_allowed(client):
    preflight = await client.options("/auth/login", headers=_preflight(ALLOWED_ORIGIN))
    response = await client.get("/health", headers={"Origin": ALLOWED_ORIGIN})

    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in response.headers
