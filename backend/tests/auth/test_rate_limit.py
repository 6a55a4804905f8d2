"""The per-client-IP limit on login and registration (AUTH_RATE_LIMIT): in memory for one
process, in Redis (RATE_LIMIT_STORAGE_URL) for several; the client IP behind trusted proxies."""

import ipaddress
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from tests.helpers import PASSWORD, WRONG_PASSWORD, attempt_login, client_of, fresh_app

LIMIT = 3
REDIS_URL = "redis://127.0.0.1:6379"
PROXY = "10.0.0.2"


def unique_ip() -> str:
    """An address in a /64 that no other test run uses, so that counts kept in Redis never
    collide (an IPv6 client is counted by its /64)."""
    network = 0xFD << 120 | (uuid.uuid4().int >> 72) << 64  # a unique local fdxx:...::/64
    return str(ipaddress.IPv6Address(network | 1))


async def _failed_login(http, email: str = "someone@example.com", **request: Any):
    """A login with the wrong password: what the limit counts."""
    return await attempt_login(http, email, WRONG_PASSWORD, **request)


async def _use_up_the_limit(http, **request: Any) -> None:
    for _ in range(LIMIT):
        response = await _failed_login(http, **request)
        assert response.status_code == 401, response.text


def _assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


@pytest.fixture
async def limited_app(database_url, clean_database) -> AsyncIterator[Any]:
    """An app limiting each IP to LIMIT requests a minute per endpoint, counted in memory."""
    async with fresh_app(database_url, auth_rate_limit=f"{LIMIT}/minute") as application:
        yield application


@pytest.fixture
async def proxied_app(database_url, clean_database) -> AsyncIterator[Any]:
    """The same limit, behind a trusted proxy at PROXY."""
    async with fresh_app(
        database_url, auth_rate_limit=f"{LIMIT}/minute", trusted_proxies=f"{PROXY}/32"
    ) as application:
        yield application


@pytest.fixture
async def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        pytest.skip(f"needs Redis at {REDIS_URL}")
    finally:
        await client.aclose()
    return REDIS_URL


async def test_login_is_refused_with_429_once_an_ip_used_up_its_limit(limited_app):
    async with client_of(limited_app) as http:
        await _use_up_the_limit(http)

        response = await _failed_login(http)

    _assert_rate_limited(response)


async def test_the_limit_refuses_even_the_right_password(limited_app, make_user):
    user = await make_user()
    async with client_of(limited_app) as http:
        await _use_up_the_limit(http)

        response = await attempt_login(http, user.email, PASSWORD)

    _assert_rate_limited(response)


async def test_the_limit_counts_attempts_on_every_email(limited_app):
    async with client_of(limited_app) as http:
        for number in range(LIMIT):
            assert (await _failed_login(http, f"user{number}@example.com")).status_code == 401

        response = await _failed_login(http, "yet-another@example.com")

    _assert_rate_limited(response)


async def test_registration_is_limited_per_ip(limited_app):
    async with client_of(limited_app) as http:
        for number in range(LIMIT):
            response = await http.post(
                "/auth/register", json={"email": f"new{number}@example.com", "password": PASSWORD}
            )
            assert response.status_code == 201, response.text

        response = await http.post(
            "/auth/register", json={"email": "one-more@example.com", "password": PASSWORD}
        )

    _assert_rate_limited(response)


async def test_login_and_registration_are_counted_apart(limited_app):
    async with client_of(limited_app) as http:
        await _use_up_the_limit(http)

        response = await http.post(
            "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
        )

    assert response.status_code == 201, response.text


async def test_another_ip_keeps_its_own_allowance(limited_app):
    async with client_of(limited_app, peer="198.51.100.1") as first:
        await _use_up_the_limit(first)
    async with client_of(limited_app, peer="198.51.100.2") as second:
        response = await _failed_login(second)

    assert response.status_code == 401, response.text


async def test_ipv6_addresses_of_one_64_network_share_an_allowance(limited_app):
    for host in range(LIMIT):
        async with client_of(limited_app, peer=f"2001:db8:1:2::{host + 1:x}") as http:
            assert (await _failed_login(http)).status_code == 401

    async with client_of(limited_app, peer="2001:db8:1:2:ffff::9") as http:
        response = await _failed_login(http)

    _assert_rate_limited(response)


async def test_another_ipv6_64_network_keeps_its_own_allowance(limited_app):
    async with client_of(limited_app, peer="2001:db8:1:2::1") as first:
        await _use_up_the_limit(first)
    async with client_of(limited_app, peer="2001:db8:1:3::1") as second:
        response = await _failed_login(second)

    assert response.status_code == 401, response.text


async def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address(limited_app):
    async with client_of(limited_app, peer="198.51.100.7") as ipv4:
        await _use_up_the_limit(ipv4)
    async with client_of(limited_app, peer="::ffff:198.51.100.7") as mapped:
        response = await _failed_login(mapped)

    _assert_rate_limited(response)


async def test_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(limited_app):
    async with client_of(limited_app, peer="198.51.100.1") as http:
        for number in range(LIMIT):
            headers = {"X-Forwarded-For": f"192.0.2.{number}"}
            assert (await _failed_login(http, headers=headers)).status_code == 401

        response = await _failed_login(http, headers={"X-Forwarded-For": "192.0.2.200"})

    _assert_rate_limited(response)


async def test_clients_behind_a_trusted_proxy_are_limited_one_by_one(proxied_app):
    async with client_of(proxied_app, peer=PROXY) as proxy:
        await _use_up_the_limit(proxy, headers={"X-Forwarded-For": "192.0.2.1"})

        limited = await _failed_login(proxy, headers={"X-Forwarded-For": "192.0.2.1"})
        other_client = await _failed_login(proxy, headers={"X-Forwarded-For": "192.0.2.2"})

    _assert_rate_limited(limited)
    assert other_client.status_code == 401, other_client.text


async def test_addresses_a_client_prepends_behind_a_trusted_proxy_do_not_escape_the_limit(
    proxied_app,
):
    # The proxy appends the address it saw; what the client sent stays on the left.
    async with client_of(proxied_app, peer=PROXY) as proxy:
        for number in range(LIMIT):
            headers = {"X-Forwarded-For": f"192.0.2.{100 + number}, 192.0.2.1"}
            assert (await _failed_login(proxy, headers=headers)).status_code == 401

        response = await _failed_login(proxy, headers={"X-Forwarded-For": "192.0.2.200, 192.0.2.1"})

    _assert_rate_limited(response)


async def test_the_limit_holds_with_redis_storage(database_url, clean_database, redis_url):
    async with (
        fresh_app(
            database_url, auth_rate_limit=f"{LIMIT}/minute", rate_limit_storage_url=redis_url
        ) as application,
        client_of(application, peer=unique_ip()) as http,
    ):
        await _use_up_the_limit(http)

        response = await _failed_login(http)

    _assert_rate_limited(response)


async def test_processes_sharing_redis_share_the_count(database_url, clean_database, redis_url):
    ip = unique_ip()
    settings = {"auth_rate_limit": f"{LIMIT}/minute", "rate_limit_storage_url": redis_url}
    async with (
        fresh_app(database_url, **settings) as first_process,
        fresh_app(database_url, **settings) as second_process,
        client_of(first_process, peer=ip) as first,
        client_of(second_process, peer=ip) as second,
    ):
        await _use_up_the_limit(first)

        response = await _failed_login(second)

    _assert_rate_limited(response)


async def test_an_unreachable_redis_answers_503_not_500(database_url, clean_database):
    async with (
        fresh_app(
            database_url,
            auth_rate_limit=f"{LIMIT}/minute",
            rate_limit_storage_url="redis://127.0.0.1:1",
        ) as application,
        client_of(application) as http,
    ):
        response = await _failed_login(http)

    assert response.status_code == 503, response.text
    assert response.json()["code"] == "service_unavailable"
