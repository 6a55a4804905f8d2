"""The async engine: its pool, timeouts and the hooks that keep a database outage to a 503,
and SQLite's transactions."""

import logging
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.core.config import Settings

logger = logging.getLogger(__name__)

CLIENT_TIMEOUT_MARGIN_SECONDS = 1.0

# An execution option of ours: the connection serves one read, in no transaction of its own.
SINGLE_READ = "py_auth_single_read"

# Behind PgBouncer in transaction mode (DB_POOLER=pgbouncer), consecutive transactions of one
# client connection may run on different server connections, and PgBouncer 1.18 (Debian
# bookworm's) forwards no prepared statement from one to the next. So: no statement caches
# (asyncpg's, which Database.fetch uses, and SQLAlchemy's), and SQLAlchemy's statements left
# unnamed, as asyncpg's are then: a named one would outlive its transaction on the server
# connection and clash with the same name from another client. asyncpg parses an unnamed
# statement again with each execution (Parse, Bind, Execute in one message), so it needs no
# server connection of its own. No statement_timeout startup parameter: PgBouncer refuses
# it; the role carries it (ALTER ROLE ... SET statement_timeout).
TRANSACTION_POOLER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: "",
}


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": settings.db_timeout_seconds},
        )
        _configure_sqlite(engine)
        return engine
    timeout = settings.db_timeout_seconds
    connect_args: dict[str, Any] = {
        "timeout": timeout,  # connecting, handshake included
        # Waiting for any answer, on the client side: a little longer than the server's
        # statement_timeout, so that a slow statement ends as the server's clean
        # cancellation (57014, the connection kept) and the client's own timeout is left
        # for a database that stopped answering altogether.
        "command_timeout": timeout + CLIENT_TIMEOUT_MARGIN_SECONDS,
    }
    if settings.db_pooler == "pgbouncer":
        connect_args.update(TRANSACTION_POOLER_CONNECT_ARGS)
    else:
        connect_args["server_settings"] = {"statement_timeout": str(int(timeout * 1000))}
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        # No pre-ping (a round trip per checkout): connections idle for a while are tested
        # (_test_connections_that_sat_idle), and one found dead is replaced, the pool with it.
        connect_args=connect_args,
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
