"""The app's Database (engine, sessions, the fast read), and the session every request uses."""

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import await_only, greenlet_spawn

from app.core.app_state import database_of
from app.core.config import Settings
from app.core.engine import SINGLE_READ, create_engine
from app.core.errors import AppError
from app.core.fast_read import AnySelect, FastRead, RowT, registered

logger = logging.getLogger(__name__)


class Database:
    """The engine and session factory of one app, and the hot path's one read."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._on_asyncpg = self.engine.dialect.driver == "asyncpg"
        # Whether fetch runs a FastRead that writes (a data-modifying WITH): PostgreSQL, through
        # asyncpg. Callers of one keep a path for when it does not (SQLite).
        self.fetches_writes = self._on_asyncpg
        self._driver_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        self._pool_timeout = settings.db_pool_timeout_seconds
        self._fast_read_slots = asyncio.Semaphore(settings.db_pool_size + settings.db_max_overflow)

    async def fetch(self, read: FastRead[RowT], parameters: Mapping[str, Any]) -> list[RowT]:
        """The rows of a registered fast read (app.core.fast_read says when to use one),
        outside any transaction: one round trip, no BEGIN or COMMIT.

        On PostgreSQL the read, compiled once, runs on the asyncpg connection of a pooled
        connection: SQLAlchemy's connection and result layers cost a fifth of GET /users/me
        (BENCHMARKS.md). Errors are raised as SQLAlchemy raises them, so the app answers them
        as any other (503 for a database that is away or too slow).
        """
        read = registered(read)
        if not self._on_asyncpg:
            if read.writes:  # not self.fetches_writes
                raise TypeError(f"{read!r} writes: PostgreSQL (asyncpg) only")
            return read.rows(await self._fetch_through_sqlalchemy(read.statement, parameters))
        sql, _ = read.compiled(self.engine.dialect)
        arguments = read.arguments(self.engine.dialect, parameters)
        await self._take_fast_read_slot()
        try:
            rows = await greenlet_spawn(self._fetch_on_pooled_connection, sql, arguments)
            if rows is not None:
                return read.rows(rows)
            if read.writes:
                # Whether the statement committed before the connection went is unknown: it
                # is not run a second time (a refresh token would be presented twice: reuse).
                raise DBAPIError(sql, None, ConnectionError("connection lost")) from None
            # The connection was gone (the database restarted, say): read again through
            # SQLAlchemy, which reconnects.
            logger.warning("a pooled connection was lost; reading through a new one")
            return read.rows(await self._fetch_through_sqlalchemy(read.statement, parameters))
        finally:
            self._fast_read_slots.release()

    async def _take_fast_read_slot(self) -> None:
        """Wait here, not in SQLAlchemy's pool, when every connection is out.

        SQLAlchemy's async pool waits for a connection through asyncio.wait_for, a task per
        waiter: under load (more requests in flight than connections) that wait cost more than
        the query (BENCHMARKS.md, item 22). As many slots as the pool has connections, so a
        fast read that has one finds a connection free (unless sessions hold them: then it
        waits in the pool as before). The wait is bounded as the pool's is: 503 after
        DB_POOL_TIMEOUT_SECONDS.
        """
        if not self._fast_read_slots.locked():
            await self._fast_read_slots.acquire()  # free: taken at once, no wait
            return
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._fast_read_slots.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"no database connection free within {self._pool_timeout} s"
            ) from None

    def _fetch_on_pooled_connection(
        self, sql: str, arguments: Sequence[Any]
    ) -> Sequence[Sequence[Any]] | None:
        """Check out, run on the asyncpg connection, return: in one greenlet, one hop between
        asyncio and SQLAlchemy's pool where two (checkout, return) cost 4% of GET /users/me
        (BENCHMARKS.md, item 22). The rows, or None if the connection was lost."""
        pooled = self._checkout()
        driver: Any = pooled.driver_connection  # an asyncpg connection
        lost = False
        try:
            rows: Sequence[Sequence[Any]] = await_only(driver.fetch(sql, *arguments))
            return rows
        except asyncpg.PostgresError as error:
            if not driver.is_closed():
                # The database refused the statement (a statement timeout, say); the
                # connection is sound and goes back to the pool.
                raise DBAPIError(sql, None, error) from error
            lost = True
        except TimeoutError:
            # No answer: asking again would double the wait. The connection is mid-protocol.
            lost = True
            raise
        except Exception:
            lost = True  # the connection is gone or broken (asyncpg has several ways to say so)
        except BaseException:
            lost = True  # cancelled: the connection may be mid-protocol
            raise
        finally:
            if lost:
                pooled.invalidate()  # never handed out again
            pooled.close()
        return None

    def _checkout(self) -> PoolProxiedConnection:
        try:
            return self.engine.sync_engine.raw_connection()
        except self._driver_error as error:
            # A connection that could not be opened (the database starting up, or out of
            # connections), raised as SQLAlchemy raises it everywhere else.
            raise DBAPIError.instance(None, None, error, self._driver_error) from error

    async def _fetch_through_sqlalchemy(
        self, statement: AnySelect, parameters: Mapping[str, Any], *, retry: bool = True
    ) -> Sequence[Sequence[Any]]:
        try:
            async with self.engine.connect() as connection:
                connection = await connection.execution_options(**{SINGLE_READ: True})
                rows: Sequence[Sequence[Any]] = (
                    await connection.execute(statement, parameters)
                ).all()
                return rows
        except DBAPIError as error:
            if not (retry and error.connection_invalidated):
                raise
        # The connection was lost, and SQLAlchemy has since discarded every pooled connection
        # opened before: a read is safe to repeat, on a fresh connection.
        return await self._fetch_through_sqlalchemy(statement, parameters, retry=False)

    def connections_in_use(self) -> int:
        checked_out = getattr(self.engine.pool, "checkedout", None)
        return int(checked_out()) if checked_out is not None else 0

    async def dispose(self) -> None:
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session, one transaction per request: committed on success, rolled back on error.

    Services only flush; the commit happens here, before the response is sent
    (``scope="function"``), so a failed commit is reported to the client.
    """
    database = database_of(request)
    async with database.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except AppError as exc:
            await (session.commit() if exc.persist_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
