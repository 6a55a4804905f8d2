"""The async engine, the declarative base and the per-request session."""

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from app.core.config import Settings
from app.core.errors import AppError
from app.core.fast_read import AnySelect, FastRead, RowT, registered

logger = logging.getLogger(__name__)

# An execution option of ours: the connection serves one read, in no transaction of its own.
SINGLE_READ = "py_auth_single_read"

# Stable constraint names, so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_UTC_MIN = datetime.min.replace(tzinfo=UTC)
_UTC_MAX = datetime.max.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every back end (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given: use app.core.clock.utcnow()")
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                # 0001-01-01T00:00+14:00 or 9999-12-31T23:59-14:00 (say, a filter sent by a
                # client) lies outside what UTC can show: take the nearest end, which compares
                # the same way against every stored time.
                value = _UTC_MIN if value.year == datetime.min.year else _UTC_MAX
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": settings.db_timeout_seconds},
        )
        _configure_sqlite(engine)
        return engine
    timeout = settings.db_timeout_seconds
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        # No pre-ping (a round trip per checkout): connections idle for a while are tested
        # (_test_connections_that_sat_idle), and one found dead is replaced, the pool with it.
        connect_args={
            "timeout": timeout,  # connecting, handshake included
            "command_timeout": timeout,  # waiting for any answer, on the client side
            "server_settings": {"statement_timeout": str(int(timeout * 1000))},
        },
    )
    _drop_broken_connections_at_once(engine)
    _test_connections_that_sat_idle(engine, settings.db_ping_after_idle_seconds)
    return engine


def _test_connections_that_sat_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Test a pooled connection before use when it sat idle longer than ``idle_seconds``.

    SQLAlchemy's pool_pre_ping tests every checkout: a round trip on every request. Here a
    busy process, whose connections go back and out within milliseconds, tests none; after a
    quiet spell (a database restart is one) each connection is tested once, and the first
    dead one found makes SQLAlchemy discard every connection opened before and connect anew.
    """
    pool = engine.sync_engine.pool
    dialect = engine.dialect

    @event.listens_for(pool, "checkin")
    def _note_return(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _test_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at <= idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except TimeoutError:
            raise  # no answer: connecting anew would wait as long again
        except Exception as error:
            raise InvalidatePoolError() from error


def _drop_broken_connections_at_once(engine: AsyncEngine) -> None:
    """Keep a database outage within DB_TIMEOUT_SECONDS per request.

    When the database stops answering (a network partition), the first timeout is the
    whole cost: the connection is not reused (its next statement, even the ROLLBACK,
    would wait as long again) and it is dropped without the polite goodbye that
    SQLAlchemy would otherwise wait up to 2 seconds for.
    """

    @event.listens_for(engine.sync_engine, "handle_error")
    def _timeout_means_disconnected(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, TimeoutError):
            # No answer within the timeout: the network or the server is gone, and so,
            # most likely, is every other pooled connection; SQLAlchemy drops them all.
            context.is_disconnect = True

    @event.listens_for(engine.sync_engine, "invalidate")
    def _abort(dbapi_connection: Any, _record: ConnectionPoolEntry, _exc: Any) -> None:
        driver_connection = getattr(dbapi_connection, "driver_connection", None)
        if driver_connection is not None:
            driver_connection.terminate()  # asyncpg: close the socket, wait for nothing


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, open transactions (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has one writer. Taking the write lock when a transaction starts makes
        # concurrent requests wait their turn instead of failing with "database is locked"
        # when a read transaction later tries to write. SQLite is for development only.
        # A single read (Database.fetch) runs in SQLite's autocommit and takes no lock.
        if not connection.get_execution_options().get(SINGLE_READ):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support (PostgreSQL's and SQLite's share the same API)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


class Database:
    """The engine and session factory of one app, and the hot path's one read."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._on_asyncpg = self.engine.dialect.driver == "asyncpg"
        self._driver_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error

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
            return read.rows(await self._fetch_through_sqlalchemy(read.statement, parameters))
        sql, _ = read.compiled(self.engine.dialect)
        arguments = read.arguments(self.engine.dialect, parameters)
        pooled = await self._checkout()
        driver: Any = pooled.driver_connection  # an asyncpg connection
        lost = False
        try:
            return read.rows(await driver.fetch(sql, *arguments))
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
                await greenlet_spawn(pooled.invalidate)  # never handed out again
            await greenlet_spawn(pooled.close)
        # The connection was gone (the database restarted, say): read again through
        # SQLAlchemy, which reconnects.
        logger.warning("a pooled connection was lost; reading through a new one")
        return read.rows(await self._fetch_through_sqlalchemy(read.statement, parameters))

    async def _checkout(self) -> PoolProxiedConnection:
        try:
            return await self.engine.raw_connection()
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


async def get_database(request: Request) -> Database:
    """The app's Database, outside the request's transaction: for fast reads
    (Database.fetch) and for the rare write that must commit on its own."""
    database: Database = request.app.state.database
    return database


NoTransactionDep = Annotated[Database, Depends(get_database)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session, one transaction per request: committed on success, rolled back on error.

    Services only flush; the commit happens here, before the response is sent
    (``scope="function"``), so a failed commit is reported to the client.
    """
    database: Database = request.app.state.database
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
