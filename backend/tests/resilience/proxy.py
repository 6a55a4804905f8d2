"""A TCP proxy between py-auth and its database, which a test can cut and restore.

Two ways to cut, the two ways a database goes away:

- ``cut()``: every connection is closed and new ones are refused, as when the database
  restarts or the link is torn down (the client learns at once);
- ``blackhole()``: connections stay open but nothing gets through, and new connections are
  accepted and never answered, as in a network partition (the client learns only from its
  own timeouts).

``cut_when(marker)`` cuts when the client sends a chunk that contains ``marker`` (say
``b"COMMIT"``): before the server gets it, or once the server has answered it but before the
client gets the answer. A cut at a chosen point of a transaction. ``silence_when(marker)``
blackholes there instead: the statement goes out and no answer ever comes.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["open", "cut", "blackhole"]


@dataclass(eq=False)  # hashed by identity: kept in a set
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.transport.abort()  # a reset, not a polite FIN after pending data
        for task in self.tasks:
            task.cancel()


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.mode: Mode = "open"
        self.port = 0
        self.connections_accepted = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._marker: bytes | None = None
        self._after_reply = False
        self._silence = False
        self._cut_at_reply_of: _Link | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self._stop_listening()
        self._close_links()

    async def cut(self) -> None:
        """Close every connection and refuse new ones until restore()."""
        self.mode = "cut"
        await self._stop_listening()
        self._close_links()

    def blackhole(self) -> None:
        """Let nothing through, on old connections and new ones, until restore()."""
        self.mode = "blackhole"

    async def restore(self) -> None:
        """Pass traffic again. Connections that lived through a blackhole lost bytes: they
        are closed, as a real partition ends with the peers' TCP timeouts."""
        if self.mode == "blackhole":
            self._close_links()
        self.mode = "open"
        self._marker = None
        self._cut_at_reply_of: _Link | None = None
        if self._server is None:
            await self.start()

    def cut_when(self, marker: bytes, *, after_reply: bool) -> None:
        """Cut when the client sends ``marker``: at once (the server never sees it), or, with
        ``after_reply``, when the server answers it (the client never sees the answer)."""
        self._marker = marker
        self._after_reply = after_reply
        self._silence = False

    def silence_when(self, marker: bytes) -> None:
        """Blackhole when the client sends ``marker``, swallowing it."""
        self._marker = marker
        self._after_reply = False
        self._silence = True

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _close_links(self) -> None:
        for link in list(self._links):
            link.close()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        link = _Link(client=writer)
        if self.mode == "cut":
            link.close()
            return
        self._links.add(link)
        try:
            if self.mode == "blackhole":
                await _drain_forever(reader)
                return
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except (OSError, asyncio.CancelledError):
            link.close()
            self._links.discard(link)
            return
        link.upstream = up_writer
        link.tasks = [
            asyncio.create_task(self._pipe(reader, up_writer, link, from_client=True)),
            asyncio.create_task(self._pipe(up_reader, writer, link, from_client=False)),
        ]

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        from_client: bool,
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if self.mode == "blackhole":
                    continue  # swallowed: the peer waits for an answer that never comes
                if not from_client and self._cut_at_reply_of is link:
                    await self.cut()  # the server has done it; the client will never know
                    return
                marker = self._marker
                if from_client and marker is not None and marker in chunk:
                    self._marker = None
                    if self._silence:
                        self.blackhole()
                        continue
                    if not self._after_reply:
                        await self.cut()
                        return
                    self._cut_at_reply_of = link
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            link.close()
            self._links.discard(link)


async def _drain_forever(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass
