"""Database.fetch, the read made on every request: the rows SQLAlchemy would give, one round
trip, and a pooled connection the database dropped costs the caller nothing."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, select, text

from app.auth.models import User
from app.core.database import Database
from tests.helpers import ON_POSTGRES, make_settings, postgres_only

USER_BY_ID = select(User.id, User.email, User.created_at).where(
    User.id == bindparam("user_id", type_=User.id.type)
)


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
        expected = (await connection.execute(USER_BY_ID, {"user_id": user.id})).all()
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
    assert rows[0][2].utcoffset() is not None  # an aware timestamp on every back end


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

    assert rows[0][0] == user.id


@postgres_only
async def test_a_read_that_times_out_is_not_repeated(database, monkeypatch):
    import asyncpg

    calls = 0

    async def no_answer(*_args: Any, **_kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise TimeoutError

    monkeypatch.setattr(asyncpg.Connection, "fetch", no_answer)

    with pytest.raises(TimeoutError):
        await database.fetch(USER_BY_ID, {"user_id": 1})
    assert calls == 1


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

        assert rows[0][0] == user.id
        await writer.rollback()
