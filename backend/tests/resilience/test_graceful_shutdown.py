"""SIGTERM, as a deploy or a scale-down sends it: uvicorn stops accepting connections, lets the
requests in flight finish (for at most --timeout-graceful-shutdown seconds), then py-auth
closes its database pool and the process exits.

A request is held in flight without a sleep: it announces its body with `Expect:
100-continue`, and the server's "100 Continue" says the app is waiting for that body. The
test sends the signal, then the body."""

import asyncio
import json
import signal

import pytest

from tests.helpers import PASSWORD
from tests.servers import Server, poll_until

# uvicorn shuts down, then re-raises the signal it caught: the process ends "killed by
# SIGTERM" (-15), which is how a process manager expects a stopped server to end.
CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)
BODY = json.dumps({"email": "inflight@example.com", "password": PASSWORD}).encode()


async def _start_request(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A registration whose headers are sent and whose body the app is waiting for."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /auth/register HTTP/1.1\r\nHost: py-auth\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(BODY)}\r\n".encode()
        + b"Expect: 100-continue\r\n\r\n"
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    return reader, writer


async def _refuses_connections(server: Server) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    except OSError:
        return True
    writer.close()
    return False


def _events(server: Server) -> list[str]:
    """What the server logged, in order: request lines as 'METHOD route status', the rest by
    message."""
    return [
        f"{line['method']} {line['route']} {line['status']}"
        if "status" in line
        else line["message"]
        for line in server.log_lines()
    ]


async def test_sigterm_lets_the_request_in_flight_finish_then_closes_the_pool(serve):
    server = await serve("--timeout-graceful-shutdown", "20")
    reader, writer = await _start_request(server)

    server.process.send_signal(signal.SIGTERM)
    await poll_until(lambda: _refuses_connections(server), 10, "still accepting connections")
    writer.write(BODY)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)  # the server closes after it
    writer.close()

    assert response.startswith(b"HTTP/1.1 201 "), response
    assert await server.stop() in CLEAN_EXITS
    events = _events(server)
    assert "POST /auth/register 201" in events
    assert events.index("database pool closed") > events.index("POST /auth/register 201")


async def test_a_request_longer_than_the_graceful_timeout_is_cut_and_the_pool_still_closed(
    serve,
):
    server = await serve("--timeout-graceful-shutdown", "1")
    _, writer = await _start_request(server)  # and its body never comes

    server.process.send_signal(signal.SIGTERM)

    assert await server.stop(within=15) in CLEAN_EXITS
    writer.close()
    assert "database pool closed" in _events(server)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_an_idle_server_exits_cleanly_on_a_signal(serve, sig):
    server = await serve()

    assert await server.stop(sig) in CLEAN_EXITS
    events = _events(server)
    shutdown = events.index("Waiting for application shutdown.")
    assert events[shutdown:] == [
        "Waiting for application shutdown.",
        "database pool closed",
        "Application shutdown complete.",
        f"Finished server process [{server.process.pid}]",
    ]
