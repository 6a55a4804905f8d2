"""py-auth as deployed (conftest.py): https through nginx to two processes, PgBouncer in
transaction mode in front of PostgreSQL, Redis for the per-IP limit. What a single process
behind no proxy cannot show: who the client is, what the processes share, and what a restart
of any piece costs."""

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from limits import parse
from playwright.async_api import async_playwright, expect
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.auth.models import RefreshToken
from app.core.database import Database
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.deploy.conftest import Topology, new_client_address, new_email
from tests.helpers import PASSWORD, WRONG_PASSWORD, attempt_login, bearer, login, make_settings
from tests.servers import Server, poll_until

# uvicorn re-raises the SIGTERM it handled: a clean stop ends "killed by SIGTERM".
CLEAN_EXITS = (0, -signal.SIGTERM)


async def _register(http: httpx.AsyncClient, email: str | None = None) -> str:
    email = email or new_email()
    response = await http.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email


async def _signed_in(address: str | None, topology: Topology) -> dict[str, Any]:
    """A new account, logged in through the proxy from `address`: its tokens."""
    async with topology.client(address) as http:
        return await login(http, await _register(http))


async def _session_ips(http: httpx.AsyncClient, access_token: str) -> list[str | None]:
    response = await http.get("/auth/sessions", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    return [item["ip"] for item in response.json()["items"]]


def _requests_from(server: Server, address: str, route: str) -> int:
    return sum(
        1
        for line in server.log_lines()
        if line.get("route") == route and line.get("client_ip") == address
    )


async def test_py_auth_records_the_address_the_client_reached_the_proxy_from(topology):
    address = new_client_address()
    async with topology.client(address) as http:
        tokens = await login(http, await _register(http))

        assert await _session_ips(http, tokens["access_token"]) == [address]


async def test_a_forged_x_forwarded_for_from_the_client_is_not_believed(topology):
    address = new_client_address()
    async with topology.client(address) as http:
        email = await _register(http)
        tokens = await login(http, email, headers={"X-Forwarded-For": "203.0.113.66"})

        assert await _session_ips(http, tokens["access_token"]) == [address]


async def test_plain_http_is_redirected_to_https(topology):
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{topology.nginx.http_port}/ui/")

    assert response.status_code == 308
    assert response.headers["Location"] == f"{topology.url}/ui/"


async def test_the_per_ip_limit_is_one_count_shared_by_both_processes(topology):
    limit = parse(topology.settings["AUTH_RATE_LIMIT"]).amount
    address = new_client_address()
    async with topology.client(address) as http:
        within = [(await attempt_login(http, new_email(), WRONG_PASSWORD)) for _ in range(limit)]
        beyond = await attempt_login(http, new_email(), WRONG_PASSWORD)

    assert [response.status_code for response in within] == [401] * limit
    assert beyond.status_code == 429
    # Each process counted part of them: only a count they share reached the limit.
    served = [_requests_from(server, address, "/auth/login") for server in topology.servers]
    assert all(count > 0 for count in served), served


async def test_the_console_signs_in_and_stays_signed_in_across_a_reload_with_secure_cookies(
    topology,
):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install chromium (Debian's package)")
    async with topology.client() as http:
        email = await _register(http)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            # The certificate was made for this run: trusted here as a browser would trust it
            # once told to.
            context = await browser.new_context(base_url=topology.url, ignore_https_errors=True)
            page = await context.new_page()
            await sign_in(page, email)
            cookies = await context.cookies()
            await page.reload()

            await expect(page.locator("#account")).to_contain_text(email)
        finally:
            await browser.close()
    assert {cookie["name"] for cookie in cookies} == {
        "__Secure-refresh_token",
        "__Host-csrf_token",
    }
    assert all(cookie["secure"] for cookie in cookies), cookies


async def test_a_refresh_token_reused_at_one_process_ends_the_session_at_the_other(topology):
    tokens = await _signed_in(None, topology)
    first, second = topology.servers
    stolen = tokens["refresh_token"]
    async with first.client() as at_first, second.client() as at_second:
        rotated = await at_first.post("/auth/refresh", json={"refresh_token": stolen})
        assert rotated.status_code == 200, rotated.text

        replayed = await at_second.post("/auth/refresh", json={"refresh_token": stolen})
        assert replayed.status_code == 401
        assert replayed.json()["code"] == "token_revoked"
        owners = await at_first.post(
            "/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
        )

    assert owners.status_code == 401
    assert owners.json()["code"] == "token_revoked"


async def test_the_proxy_sends_requests_past_a_process_that_is_down(topology):
    tokens = await _signed_in(None, topology)
    stopped = topology.servers[0]
    assert await stopped.stop() in CLEAN_EXITS
    try:
        async with topology.client() as http:
            statuses = [
                (await http.get("/users/me", headers=bearer(tokens["access_token"]))).status_code
                for _ in range(10)
            ]
    finally:
        topology.servers[0] = await topology.start_server(stopped.port)
        await topology.restore()  # a reload: nginx forgets that the process failed

    assert statuses == [200] * 10


class SteadyStream:
    """GET /users/me from two clients and POST /auth/refresh from a third, through the proxy,
    each sending its next request when the last is answered; every answer is kept."""

    def __init__(self, topology: Topology, tokens: dict[str, Any]) -> None:
        self.topology = topology
        self.access_token: str = tokens["access_token"]
        self.refresh_token: str = tokens["refresh_token"]
        self.answers: Counter[str] = Counter()
        self.acknowledged_refreshes = 0
        self._stop = asyncio.Event()

    @property
    def requests(self) -> int:
        return self.answers.total()

    async def _read(self) -> None:
        async with self.topology.client() as http:
            while not self._stop.is_set():
                await self._send(http.get("/users/me", headers=bearer(self.access_token)))

    async def _refresh(self) -> None:
        async with self.topology.client() as http:
            while not self._stop.is_set():
                request = http.post("/auth/refresh", json={"refresh_token": self.refresh_token})
                response = await self._send(request)
                if response is not None and response.status_code == 200:
                    self.refresh_token = response.json()["refresh_token"]
                    self.acknowledged_refreshes += 1

    async def _send(self, request: Any) -> httpx.Response | None:
        try:
            response: httpx.Response = await request
        except httpx.TransportError as error:
            self.answers[type(error).__name__] += 1
            return None
        self.answers[f"{response.request.method} {response.status_code}"] += 1
        return response

    async def served(self, more: int) -> None:
        """Wait until `more` requests have been answered (or failed) from now."""
        target = self.requests + more

        async def reached() -> bool:
            return self.requests >= target

        await poll_until(reached, 30, f"the stream stalled at {self.requests} requests")

    @asynccontextmanager
    async def running(self) -> AsyncIterator["SteadyStream"]:
        tasks = [asyncio.create_task(work()) for work in (self._read, self._read, self._refresh)]
        try:
            await self.served(20)
            yield self
        finally:
            self._stop.set()
            await asyncio.gather(*tasks)


async def _current_session_id(topology: Topology, access_token: str) -> str:
    async with topology.client() as http:
        response = await http.get("/auth/sessions", headers=bearer(access_token))
    (current,) = [item["id"] for item in response.json()["items"] if item["current"]]
    return str(current)


async def _refresh_tokens_of_the_session(topology: Topology, session_id: str) -> int:
    """How many refresh tokens PostgreSQL holds for the session, read there directly."""
    database = Database(make_settings(topology.database_url))
    try:
        async with database.sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.family_id == uuid.UUID(session_id))
            )
    finally:
        await database.dispose()
    return int(count or 0)


async def test_a_rolling_restart_loses_no_request_and_no_acknowledged_write(topology):
    tokens = await _signed_in(None, topology)
    stream = SteadyStream(topology, tokens)

    async with stream.running():
        for index, old in enumerate(list(topology.servers)):
            # As a Kubernetes preStop pause does: out of the proxy's rotation first, so that no
            # new request meets the process as it closes; then SIGTERM lets the requests in
            # flight finish.
            await topology.drain(old)
            await stream.served(20)
            assert await old.stop() in CLEAN_EXITS
            topology.servers[index] = await topology.start_server(old.port)
            await topology.restore()
            await stream.served(20)

    assert set(stream.answers) == {"GET 200", "POST 200"}, stream.answers
    # Every acknowledged rotation was written: the login's token and one per acknowledgement.
    session_id = await _current_session_id(topology, tokens["access_token"])
    stored = await _refresh_tokens_of_the_session(topology, session_id)
    assert stored == 1 + stream.acknowledged_refreshes
    async with topology.client() as http:
        last = await http.post("/auth/refresh", json={"refresh_token": stream.refresh_token})
    assert last.status_code == 200, last.text


async def test_a_pgbouncer_restart_answers_503_then_recovers_without_restarting_py_auth(
    topology,
):
    tokens = await _signed_in(None, topology)
    processes = [server.process for server in topology.servers]
    async with topology.client() as http:

        async def me() -> int:
            return (await http.get("/users/me", headers=bearer(tokens["access_token"]))).status_code

        await topology.pgbouncer.stop()
        try:
            while_down = [await me() for _ in range(6)]
            ready_while_down = (await http.get("/ready")).status_code
            health_while_down = (await http.get("/health")).status_code
        finally:
            await topology.pgbouncer.start()
        after: list[int] = []

        async def recovered() -> bool:
            after.append(await me())
            return after[-1] == 200

        await poll_until(recovered, 20, f"no recovery: {after}", interval=0.2)

    assert while_down == [503] * 6
    assert (ready_while_down, health_while_down) == (503, 200)
    assert set(after) <= {200, 503}, after
    assert all(process.poll() is None for process in processes)
    assert [server.process for server in topology.servers] == processes


async def test_the_statement_timeout_set_on_the_role_cancels_a_slow_statement(topology):
    database = Database(make_settings(topology.pooled_url, db_pooler="pgbouncer"))
    try:
        async with database.sessionmaker() as session:
            with pytest.raises(DBAPIError) as raised:
                await session.execute(text("SELECT pg_sleep(30)"))
    finally:
        await database.dispose()

    # The server's cancellation, not the client giving up: the role's timeout is in force.
    assert isinstance(raised.value.orig.__cause__, asyncpg.QueryCanceledError)


async def test_pgbouncer_refuses_a_py_auth_not_told_it_is_there(topology):
    database = Database(make_settings(topology.pooled_url))  # DB_POOLER left at "none"
    try:
        with pytest.raises(DBAPIError, match="unsupported startup parameter: statement_timeout"):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await database.dispose()
