"""The async engine, the declarative base and the per-request session."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from app.core.config import Settings
from app.core.errors import AppError

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
        # A pooled connection is tested before use, so after an outage the first request
        # gets a fresh connection instead of an error: no restart needed.
        pool_pre_ping=True,
        connect_args={
            "timeout": timeout,  # connecting, handshake included
            "command_timeout": timeout,  # waiting for any answer, on the client side
            "server_settings": {"statement_timeout": str(int(timeout * 1000))},
        },
    )
    _drop_broken_connections_at_once(engine)
    return engine


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
            context.is_disconnect = True
            # Other pooled connections are tested (pre-ping) when next used.
            context.invalidate_pool_on_disconnect = False

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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support (PostgreSQL's and SQLite's share the same API)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


class Database:
    """The engine and session factory of one app."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # For single reads outside the request's transaction (the caller's permissions, on
        # every request): on PostgreSQL no BEGIN and COMMIT around them, one round trip.
        self.read_engine = (
            self.engine
            if settings.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

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
