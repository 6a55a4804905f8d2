"""Fixtures of the resilience tests: real servers (uvicorn subprocesses) on the test database,
always killed at the end, and a proxy that can cut them off from PostgreSQL."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.resilience.proxy import TcpProxy
from tests.servers import Server, server_env, start_server

StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start(app: Any, tmp_path: Path, database_url: str) -> AsyncIterator[StartServer]:
    """`await start(DB_TIMEOUT_SECONDS="2")`: a server on the test database (or on
    `database_url=...`), with these settings. Depends on `app` so that the database is
    emptied after the test, once every server is gone."""
    servers: list[Server] = []

    async def start_server_(
        *uvicorn_args: str, database_url: str = database_url, **settings: str
    ) -> Server:
        output = tmp_path / f"server-{len(servers)}.log"
        server = await start_server(server_env(database_url, **settings), output, *uvicorn_args)
        servers.append(server)
        return server

    yield start_server_
    for server in servers:
        server.kill()


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(database_url)
    tcp_proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await tcp_proxy.start()
    yield tcp_proxy
    await tcp_proxy.stop()


@pytest.fixture
def proxied_url(database_url: str, proxy: TcpProxy) -> str:
    """The test database, reached through the proxy."""
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)
