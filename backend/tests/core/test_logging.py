"""Logs: one JSON line per request (time, level, request id, method, route template, status,
duration, user id when known, client IP) and JSON lines for the application's events, through
the standard logging module, at LOG_LEVEL; readable lines with LOG_FORMAT=console; never a
secret.

(tests/core/test_log_lines.py shows that no client value can break a line in two.)"""

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.core.logging import ConsoleFormatter, JsonFormatter, configure_logging
from app.core.security import hash_opaque_token
from tests.helpers import (
    PASSWORD,
    TEST_SECRET,
    attempt_login,
    bearer,
    client_of,
    fresh_app,
    issue_access_token,
    login,
)

REQUEST_FIELDS = {
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "user_id",
    "client_ip",
}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Tests that configure logging give the root logger back as they found it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The request log lines, as the JSON formatter writes them."""
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "app.request"
    ]


async def test_a_request_writes_one_json_line_with_its_fields(client, make_user, caplog):
    user = await make_user()
    tokens = await login(client, user.email)
    caplog.clear()

    with caplog.at_level(logging.INFO):
        response = await client.get(
            "/users/me",
            headers={**bearer(tokens["access_token"]), "X-Request-ID": "trace-me-1"},
        )

    (line,) = request_lines(caplog)
    assert set(line) == REQUEST_FIELDS
    assert ISO_TIME.match(line["time"]), line["time"]
    assert line["level"] == "info"
    assert line["request_id"] == "trace-me-1" == response.headers["X-Request-ID"]
    assert (line["method"], line["route"], line["status"]) == ("GET", "/users/me", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["user_id"] == user.id
    assert line["client_ip"] == "203.0.113.7"


async def test_the_route_is_the_template_and_the_user_is_null_when_unknown(client, caplog):
    with caplog.at_level(logging.INFO):
        await client.get("/articles/12345")

    (line,) = request_lines(caplog)
    assert (line["route"], line["status"], line["user_id"]) == ("/articles/{article_id}", 401, None)


async def test_probes_write_no_request_line(client, caplog):
    with caplog.at_level(logging.INFO):
        probes = ("/health", "/ready", "/metrics")
        statuses = [(await client.get(probe)).status_code for probe in probes]

    # /metrics is off (404) until METRICS_TOKEN is set: its route stays quiet all the same.
    assert statuses == [200, 200, 404]
    assert request_lines(caplog) == []


async def test_an_application_event_is_a_json_line_with_the_request_id(client, caplog, monkeypatch):
    # The database is unreachable for this request: the app logs a warning of its own.
    async def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr("app.auth.dependencies.load_principal", unavailable)
    codec = client._transport.app.state.access_tokens  # type: ignore[attr-defined]
    token = issue_access_token(codec, 1, uuid.uuid4())

    with caplog.at_level(logging.INFO):
        response = await client.get(
            "/users/me", headers={**bearer(token), "X-Request-ID": "event-7"}
        )

    assert response.status_code == 503
    formatter = JsonFormatter()
    (event,) = [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "app.errors"
    ]
    assert event["level"] == "warning"
    assert event["message"] == "database unavailable: ConnectionRefusedError"
    assert event["request_id"] == "event-7"


async def test_log_level_comes_from_the_settings(
    database_url, clean_database, caplog, restore_logging
):
    async with fresh_app(database_url, log_level="WARNING") as application:
        assert logging.getLogger().level == logging.WARNING
        with caplog.at_level(logging.NOTSET):
            async with client_of(application) as http:
                await http.get("/articles")

    # A request line is INFO: below WARNING, the app's logger does not emit it.
    assert not logging.getLogger("app.request").isEnabledFor(logging.INFO)


def test_console_format_gives_readable_lines(restore_logging):
    configure_logging("INFO", "console")
    (handler,) = logging.getLogger().handlers
    record = logging.LogRecord(
        "app.request", logging.INFO, __file__, 1, "GET %s %s", ("/users/me", 200), None
    )
    record.fields = {"route": "/users/me", "status": 200, "user_id": 7}

    line = handler.format(record)

    assert isinstance(handler.formatter, ConsoleFormatter)
    readable = r"\d\d:\d\d:\d\d INFO    app\.request: GET /users/me 200 "
    assert re.fullmatch(readable + r"route='/users/me' status=200 user_id=7", line), line


def test_json_format_is_the_default(restore_logging):
    configure_logging("INFO")

    (handler,) = logging.getLogger().handlers
    assert isinstance(handler.formatter, JsonFormatter)


def test_uvicorn_writes_through_our_handler_and_its_access_log_stays_off(restore_logging):
    configure_logging("INFO", "json")

    assert logging.getLogger("uvicorn.error").propagate
    # uvicorn writes its access line only when that logger has a handler: ours is the one
    # request line, without the raw query string.
    assert not logging.getLogger("uvicorn.access").hasHandlers()


async def test_no_secret_reaches_the_logs_of_a_real_server(serve, session):
    """A full session against a real server at LOG_LEVEL=DEBUG: register, a failed login,
    login, refresh, reuse, password change, logout. Then its whole output is searched for
    every secret it saw."""
    new_password = "a brand new passphrase, 2nd"
    wrong_password = "not the password, clearly"
    server = await serve(LOG_LEVEL="DEBUG")
    async with server.client() as http:
        email = "secret-keeper@example.com"
        assert (
            await http.post("/auth/register", json={"email": email, "password": PASSWORD})
        ).status_code == 201
        await attempt_login(http, email, wrong_password)
        first = await login(http, email)
        second = (
            await http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        await http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})  # reuse
        third = await login(http, email)
        assert (
            await http.get("/users/me", headers=bearer(third["access_token"]))
        ).status_code == 200
        changed = await http.post(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": new_password},
            headers=bearer(third["access_token"]),
        )
        assert changed.status_code == 204, changed.text
        fourth = await login(http, email, new_password)
        await http.post("/auth/logout", json={"refresh_token": fourth["refresh_token"]})
    await server.stop()
    stored_hash = await session.scalar(select(User.hashed_password).where(User.email == email))

    output = server.text()
    lines = server.log_lines()  # every line is JSON
    assert any(line.get("route") == "/users/me/password" for line in lines)
    (started,) = [line for line in lines if line["message"] == "py-auth started"]
    assert started["log_level"] == "DEBUG"
    refresh_tokens = [tokens["refresh_token"] for tokens in (first, second, third, fourth)]
    secrets = [
        PASSWORD,
        new_password,
        wrong_password,
        TEST_SECRET,
        stored_hash,
        *[tokens["access_token"] for tokens in (first, second, third, fourth)],
        *refresh_tokens,
        *[hash_opaque_token(token) for token in refresh_tokens],
    ]
    for secret in secrets:
        assert secret
        assert secret not in output
    assert "$argon2" not in output
