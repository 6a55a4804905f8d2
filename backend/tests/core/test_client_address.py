"""The client's address, however the server is started: uvicorn believes X-Forwarded-For from
127.0.0.1 unless told not to (--no-proxy-headers), ahead of py-auth's TRUSTED_PROXIES, which
must stay the one place where proxies are trusted. And a forwarded value that the ip columns
of sessions and audit events (45 characters) cannot hold is not believed."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log.models import AuditEvent
from tests.helpers import WRONG_PASSWORD, attempt_login, bearer, client_of, fresh_app, login
from tests.servers import Server

LIMIT = 30  # AUTH_RATE_LIMIT's default: 30/minute
PEER = "127.0.0.1"
PROXY = "10.0.0.2"


async def _failed_logins(server: Server, count: int) -> list[int]:
    """Failed logins, each for another email (no per-email lockout) and each claiming another
    address in X-Forwarded-For and Forwarded; their statuses."""
    statuses = []
    async with server.client() as http:
        for number in range(count):
            spoofed = f"198.51.100.{number % 250 + 1}"
            response = await attempt_login(
                http,
                f"nobody{number}@example.com",
                WRONG_PASSWORD,
                headers={"X-Forwarded-For": spoofed, "Forwarded": f"for={spoofed}"},
            )
            statuses.append(response.status_code)
    return statuses


async def _recorded_addresses(session: AsyncSession) -> set[str | None]:
    rows = await session.scalars(select(AuditEvent.ip).where(AuditEvent.event == "login_failed"))
    return set(rows)


async def test_make_run_counts_logins_per_real_peer_whatever_x_forwarded_for_says(
    serve: Any, session: AsyncSession
) -> None:
    server = await serve(make_run=True, AUTH_RATE_LIMIT=f"{LIMIT}/minute")

    statuses = await _failed_logins(server, 2 * LIMIT + 1)

    assert statuses == [401] * LIMIT + [429] * (LIMIT + 1)
    assert await _recorded_addresses(session) == {PEER}


async def test_a_server_with_several_workers_records_the_real_peer(
    serve: Any, session: AsyncSession
) -> None:
    server = await serve("--workers", "2")

    statuses = await _failed_logins(server, 4)

    assert statuses == [401] * 4
    assert await _recorded_addresses(session) == {PEER}


@pytest.fixture
async def proxied_app(database_url: str, clean_database: None) -> AsyncIterator[Any]:
    """An app behind a trusted proxy at PROXY."""
    async with fresh_app(database_url, trusted_proxies=f"{PROXY}/32") as application:
        yield application


@pytest.mark.parametrize(
    "forwarded",
    [
        "fe80::1%" + "x" * 40,  # an IPv6 address, but too long with its zone id (> 45)
        "192.0.2.1:8080",  # an address with a port is not an address
        "unknown",
        "_hidden",  # RFC 7239's obfuscated identifier
    ],
)
async def test_a_forwarded_value_that_is_not_a_storable_address_leaves_the_peer(
    proxied_app: Any, make_user: Any, forwarded: str
) -> None:
    user = await make_user()
    async with client_of(proxied_app, peer=PROXY) as http:
        tokens = await login(http, user.email, headers={"X-Forwarded-For": forwarded})
        sessions = await http.get("/auth/sessions", headers=bearer(tokens["access_token"]))

    assert [item["ip"] for item in sessions.json()["items"]] == [PROXY]


async def test_a_peer_with_a_long_zone_id_is_stored_without_it(app: Any, make_user: Any) -> None:
    # The zone id names an interface of this host; what is left is the client's address.
    user = await make_user()
    async with client_of(app, peer="fe80::1%" + "x" * 40) as http:
        tokens = await login(http, user.email)
        sessions = await http.get("/auth/sessions", headers=bearer(tokens["access_token"]))

    assert [item["ip"] for item in sessions.json()["items"]] == ["fe80::1"]
