"""What the security-review migration does to data already there (items 13 and 14)."""

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import run_migrations


async def _execute(database_url: str, *statements: Any) -> list[tuple[object, ...]]:
    engine = create_async_engine(database_url)
    rows: list[tuple[object, ...]] = []
    async with engine.begin() as connection:
        for statement in statements:
            result = await connection.execute(
                text(statement) if isinstance(statement, str) else statement
            )
            if result.returns_rows:
                rows = [tuple(row) for row in result]
    await engine.dispose()
    return rows


def _add_user(email: str) -> TextClause:
    return text(
        "INSERT INTO users (email, hashed_password, is_active, created_at, updated_at) "
        "VALUES (:email, 'x', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ).bindparams(email=email)


def test_stored_emails_are_normalized(new_database):
    url = new_database()
    run_migrations(url, "0005")
    asyncio.run(_execute(url, _add_user("ADMIN@ＥＸＡＭＰＬＥ.com")))  # noqa: RUF001

    run_migrations(url)

    assert asyncio.run(_execute(url, "SELECT email FROM users")) == [("admin@example.com",)]


def test_emails_that_fold_together_stop_the_migration_and_are_named(new_database):
    url = new_database()
    run_migrations(url, "0005")
    asyncio.run(_execute(url, _add_user("strasse@example.com"), _add_user("straße@example.com")))

    with pytest.raises(RuntimeError, match=re.escape("strasse@example.com and straße@example.com")):
        run_migrations(url)


def test_a_deleted_users_id_is_never_handed_out_again(new_database):
    url = new_database()
    run_migrations(url)

    rows = asyncio.run(
        _execute(
            url,
            _add_user("first@example.com"),
            _add_user("second@example.com"),
            "DELETE FROM users WHERE email = 'second@example.com'",
            _add_user("third@example.com"),
            "SELECT email, id FROM users ORDER BY id",
        )
    )

    assert [email for email, _ in rows] == ["first@example.com", "third@example.com"]
    assert rows[1][1] == 3
