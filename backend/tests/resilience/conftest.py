"""Fixtures of the resilience tests: a proxy that can cut the servers (conftest.py's `serve`)
off from PostgreSQL."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from tests.resilience.proxy import TcpProxy


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
