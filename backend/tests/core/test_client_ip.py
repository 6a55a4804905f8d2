"""The client's address, as sessions, the audit log and the per-IP limit see it: the socket
peer, unless the peer is a trusted proxy (TRUSTED_PROXIES), whose X-Forwarded-For is believed."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers import bearer, client_of, fresh_app, login

PROXY = "10.0.0.2"


@pytest.fixture
async def proxied_app(database_url, clean_database) -> AsyncIterator[Any]:
    """An app behind a trusted proxy at PROXY."""
    async with fresh_app(database_url, trusted_proxies=f"{PROXY}/32, 10.1.0.0/16") as application:
        yield application


async def _session_ip(http, email: str, forwarded_for: str | None = None) -> str:
    """Log in through `http` and return the address the new session recorded."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    tokens = await login(http, email, headers=headers)
    sessions = await http.get("/auth/sessions", headers=bearer(tokens["access_token"]))
    (item,) = sessions.json()["items"]
    ip: str = item["ip"]
    return ip


async def test_without_trusted_proxies_the_peer_is_the_client(client, make_user):
    user = await make_user()

    assert await _session_ip(client, user.email, forwarded_for="192.0.2.1") == "203.0.113.7"


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(proxied_app, make_user):
    user = await make_user()
    async with client_of(proxied_app, peer="198.51.100.1") as http:
        ip = await _session_ip(http, user.email, forwarded_for="192.0.2.1")

    assert ip == "198.51.100.1"


async def test_x_forwarded_for_from_a_trusted_proxy_is_honoured(proxied_app, make_user):
    user = await make_user()
    async with client_of(proxied_app, peer=PROXY) as http:
        ip = await _session_ip(http, user.email, forwarded_for="192.0.2.1")

    assert ip == "192.0.2.1"


async def test_the_rightmost_untrusted_address_is_the_client(proxied_app, make_user):
    user = await make_user()
    async with client_of(proxied_app, peer=PROXY) as http:
        # Spoofed by the client, then the client as the edge proxy saw it, then that proxy.
        ip = await _session_ip(http, user.email, forwarded_for="1.2.3.4, 192.0.2.1, 10.1.0.9")

    assert ip == "192.0.2.1"


async def test_a_trusted_proxy_without_x_forwarded_for_is_the_client(proxied_app, make_user):
    user = await make_user()
    async with client_of(proxied_app, peer=PROXY) as http:
        ip = await _session_ip(http, user.email)

    assert ip == PROXY


async def test_a_forwarded_value_that_is_not_an_address_is_not_believed(proxied_app, make_user):
    user = await make_user()
    async with client_of(proxied_app, peer=PROXY) as http:
        ip = await _session_ip(http, user.email, forwarded_for="<script>, not-an-ip")

    assert ip == PROXY
