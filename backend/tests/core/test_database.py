"""Database.fetch, the read made on every request: the rows SQLAlchemy would give, one round
trip, and a pooled connection the database dropped costs the caller nothing."""

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
import httpx
import pytest
from sqlalchemy import Float, String, bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.util import greenlet_spawn

from app.auth.models import User
from app.core.clock import utcnow
from app.core.database import Database
from app.core.fast_read import FastRead
from app.main import create_app
from tests.helpers import ON_POSTGRES, PASSWORD, issue_access_token, make_settings, postgres_only


class UserRow(NamedTuple):
    id: int
    email: str
    created_at: datetime


USER_BY_ID = FastRead(
    "test.user_by_id",
    select(User.id, User.email, User.created_at).where(
        User.id == bindparam("user_id", type_=User.id.type)
    ),
    UserRow,
)


class Renamed(NamedTuple):
    id: int


# A writing statement (a data-modifying WITH): a user's name changed.
_renamed = (
    update(User)
    .where(User.id == bindparam("user_id", type_=User.id.type))
    .values(full_name=bindparam("full_name", type_=String), updated_at=bindparam("now"))
    .returning(User.id)
    .cte("renamed")
)
RENAME = FastRead("test.rename", select(_renamed.c.id), Renamed, writes=True)


class Slept(NamedTuple):
    pg_sleep: object


SLEEP = FastRead("test.sleep", select(func.pg_sleep(bindparam("seconds", type_=Float))), Slept)


@pytest.fixture
async def database(settings: Any) -> Any:
    """A Database of its own (one pooled connection), so that a test may break its connections."""
    own = Database(make_settings(settings.database_url, db_pool_size=1))
    yield own
    await own.dispose()


async def test_fetch_returns_the_rows_sqlalchemy_returns(database, make_user):
    user = await make_user(email="fetch@example.com")

    rows = await database.fetch(USER_BY_ID, {"user_id": user.id})

    async with database.engine.connect() as connection:
        expected = (await connection.execute(USER_BY_ID.statement, {"user_id": user.id})).all()
    assert rows == [UserRow(*row) for row in expected]
    assert rows[0].created_at.utcoffset() is not None  # an aware timestamp on every back end


async def test_fetch_refuses_a_statement_that_is_not_a_registered_read(database):
    with pytest.raises(TypeError, match="not a registered FastRead"):
        await database.fetch(USER_BY_ID.statement, {"user_id": 1})  # type: ignore[arg-type]


async def test_fetch_of_nothing_is_no_rows(database):
    assert list(await database.fetch(USER_BY_ID, {"user_id": 10**9})) == []


@postgres_only
async def test_a_pooled_connection_the_database_dropped_is_replaced_unseen(database, make_user):
    user = await make_user()
    await database.fetch(USER_BY_ID, {"user_id": user.id})  # the pool's one connection
    async with database.engine.connect() as connection:
        backend_pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await _terminate_backend(database, backend_pid)

    rows = await database.fetch(USER_BY_ID, {"user_id": user.id})

    assert rows[0].id == user.id


@postgres_only
async def test_a_read_that_times_out_is_not_repeated(database, monkeypatch):
    calls = 0

    async def no_answer(*_args: Any, **_kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise TimeoutError

    monkeypatch.setattr(asyncpg.Connection, "fetch", no_answer)

    with pytest.raises(TimeoutError):
        await database.fetch(USER_BY_ID, {"user_id": 1})
    assert calls == 1


@postgres_only
async def test_a_read_that_failed_gives_its_connection_back(database, monkeypatch, make_user):
    user = await make_user()

    async def no_answer(*_args: Any, **_kwargs: Any) -> Any:
        raise TimeoutError

    monkeypatch.setattr(asyncpg.Connection, "fetch", no_answer)
    with pytest.raises(TimeoutError):
        await database.fetch(USER_BY_ID, {"user_id": user.id})
    monkeypatch.undo()

    # The pool's one connection (and its one fast-read slot): kept, this read would time out.
    assert (await database.fetch(USER_BY_ID, {"user_id": user.id}))[0].id == user.id


@postgres_only
async def test_a_read_waits_for_a_connection_in_use(database, make_user):
    user = await make_user()
    sleeping = asyncio.create_task(database.fetch(SLEEP, {"seconds": 0.3}))
    await asyncio.sleep(0.05)  # the pool's one connection is out

    rows = await database.fetch(USER_BY_ID, {"user_id": user.id})

    assert rows[0].id == user.id
    assert sleeping.done()  # served once the sleeper gave the connection back


@postgres_only
async def test_a_read_waits_no_longer_than_the_pool_timeout(settings):
    database = Database(
        make_settings(settings.database_url, db_pool_size=1, db_pool_timeout_seconds=0.2)
    )
    try:
        sleeping = asyncio.create_task(database.fetch(SLEEP, {"seconds": 1}))
        await asyncio.sleep(0.05)

        with pytest.raises(PoolTimeoutError):  # answered 503 (app.core.errors)
            await database.fetch(USER_BY_ID, {"user_id": 1})
        await sleeping
    finally:
        await database.dispose()


@postgres_only
async def test_a_writing_statement_runs_once_and_commits_on_its_own(database, make_user, session):
    user = await make_user(full_name="Ada")

    rows = await database.fetch(RENAME, _rename(user.id, "Grace"))

    assert rows == [Renamed(user.id)]
    assert await _full_name(database, user.id) == "Grace"


@postgres_only
async def test_a_writing_statement_is_not_repeated_when_its_connection_is_lost(database, make_user):
    user = await make_user(full_name="Ada")
    await database.fetch(USER_BY_ID, {"user_id": user.id})  # the pool's one connection
    async with database.engine.connect() as connection:
        backend_pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await _terminate_backend(database, backend_pid)

    with pytest.raises(DBAPIError):  # the app answers 503; the client may try again
        await database.fetch(RENAME, _rename(user.id, "Grace"))

    assert await _full_name(database, user.id) == "Ada"  # not run, let alone twice
    assert await database.fetch(RENAME, _rename(user.id, "Grace")) == [Renamed(user.id)]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite only: PostgreSQL runs writing statements")
async def test_a_writing_statement_is_refused_off_postgresql(database, make_user):
    user = await make_user(full_name="Ada")

    with pytest.raises(TypeError, match="PostgreSQL"):
        await database.fetch(RENAME, _rename(user.id, "Grace"))


def _rename(user_id: int, full_name: str) -> dict[str, Any]:
    return {"user_id": user_id, "full_name": full_name, "now": utcnow()}


async def _full_name(database: Database, user_id: int) -> str | None:
    async with database.engine.connect() as connection:
        return (
            await connection.execute(select(User.full_name).where(User.id == user_id))
        ).scalar_one()


async def _terminate_backend(database: Database, backend_pid: int) -> None:
    """What a database restart does to a pooled connection: its server process is gone."""
    assert ON_POSTGRES
    killer = Database(make_settings(database.engine.url.render_as_string(False)))
    try:
        async with killer.engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid}
            )
    finally:
        await killer.dispose()


async def test_a_read_does_not_wait_for_a_writer(app, make_user):
    """On SQLite, a write transaction holds the one write lock: the caller's read on every
    request must not queue behind it."""
    database = app.state.database
    user = await make_user()
    async with database.sessionmaker() as writer:
        await writer.execute(
            text("UPDATE users SET full_name = 'Writing' WHERE id = :id"), {"id": user.id}
        )

        rows = await asyncio.wait_for(database.fetch(USER_BY_ID, {"user_id": user.id}), 2)

        assert rows[0].id == user.id
        await writer.rollback()


@postgres_only
async def test_a_statement_the_database_cancels_is_not_repeated(settings, monkeypatch):
    """A statement_timeout leaves the connection sound: the error is the app's to answer
    (503), and the slow statement is not sent again."""
    database = Database(make_settings(settings.database_url, db_timeout_seconds=0.2))
    repeats: list[Any] = []
    monkeypatch.setattr(database, "_fetch_through_sqlalchemy", lambda *args: repeats.append(args))
    try:
        with pytest.raises(DBAPIError) as raised:
            await database.fetch(SLEEP, {"seconds": 5})
    finally:
        await database.dispose()

    assert raised.value.orig.sqlstate == "57014"
    assert repeats == []


@pytest.fixture
async def refusing_server() -> AsyncIterator[str]:
    """A server that answers every PostgreSQL startup as a database starting up does."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(length - 4)
        if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest: no
            writer.write(b"N")
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            await reader.readexactly(length - 4)
        fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"
        writer.write(b"E" + struct.pack("!I", len(fields) + 4) + fields)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/starting"
    server.close()


async def test_a_database_refusing_connections_answers_503(app, refusing_server):
    # Issued by the test app: this one cannot read its signing keys.
    token = issue_access_token(app.state.access_tokens, 1, uuid.uuid4())
    starting = create_app(make_settings(refusing_server))
    transport = httpx.ASGITransport(app=starting)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for path in ("/users/me", "/articles"):
            response = await http.get(path, headers={"Authorization": f"Bearer {token}"})

            assert response.status_code == 503, (path, response.text)
            assert response.json()["code"] == "service_unavailable"
    await starting.state.database.dispose()


@postgres_only
async def test_after_a_restart_a_write_meets_no_dead_connection(settings, make_user):
    """Connections that sat idle are tested before use (here: any idle time), so a login
    after every pooled connection's server process ended is served, not a 503."""
    user = await make_user()
    app = create_app(make_settings(settings.database_url, db_ping_after_idle_seconds=0))
    transport = httpx.ASGITransport(app=app)
    form = {"username": user.email, "password": PASSWORD}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        logins = [http.post("/auth/login", data=form) for _ in range(3)]
        assert {r.status_code for r in await asyncio.gather(*logins)} == {200}
        for backend_pid in await _pooled_backends(app.state.database):
            await _terminate_backend(app.state.database, backend_pid)

        response = await http.post("/auth/login", data=form)

    assert response.status_code == 200, response.text
    await app.state.database.dispose()


async def _pooled_backends(database: Database) -> list[int]:
    """The server process of every connection now idle in the pool."""
    connections = [
        await database.engine.raw_connection() for _ in range(database.engine.pool.checkedin())
    ]
    try:
        pids = []
        for pooled in connections:
            driver: Any = pooled.driver_connection
            pids.append(driver.get_server_pid())
        return pids
    finally:
        for pooled in connections:
            await greenlet_spawn(pooled.close)


async def _prepared_statements_left(database: Database, user_id: int) -> int:
    """A fast read and a read through a session, then what the one pooled connection still
    holds prepared on the server (unnamed statements are not listed there)."""
    await database.fetch(USER_BY_ID, {"user_id": user_id})
    async with database.sessionmaker() as session:
        await session.execute(select(User.email).where(User.id == user_id))
        await session.commit()
    async with database.engine.connect() as connection:
        left = await connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
        return int(left.scalar_one())


@postgres_only
async def test_statements_stay_prepared_on_the_connection_by_default(settings, make_user):
    user = await make_user()
    database = Database(make_settings(settings.database_url, db_pool_size=1))
    try:
        assert await _prepared_statements_left(database, user.id) > 0
    finally:
        await database.dispose()


@postgres_only
async def test_behind_pgbouncer_no_prepared_statement_outlives_its_transaction(settings, make_user):
    """PgBouncer in transaction mode may run the next transaction on another server
    connection, where a statement prepared here does not exist (DB_POOLER=pgbouncer)."""
    user = await make_user()
    database = Database(make_settings(settings.database_url, db_pool_size=1, db_pooler="pgbouncer"))
    try:
        assert await _prepared_statements_left(database, user.id) == 0
    finally:
        await database.dispose()
