import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Base
from tests.helpers import run_migrations

EXPECTED_ROLES = {
    "viewer": {"read_article", "read_user"},
    "editor": {"read_article", "read_user", "create_article", "update_article"},
    "admin": {
        "create_article",
        "read_article",
        "update_article",
        "delete_article",
        "read_user",
        "update_user",
        "delete_user",
        "manage_roles",
        "read_audit",
        "read_user_private",
        "create_user",
        "update_any_article",
        "delete_any_article",
        "manage_service_accounts",
        "introspect_tokens",
    },
}


async def _table_names(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def _schema_drift(database_url: str) -> list[object]:
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    return list(diff)


def test_migrations_go_up_down_and_up_again(new_database):
    url = new_database()
    run_migrations(url)
    assert asyncio.run(_table_names(url)) == set(Base.metadata.tables)
    run_migrations(url, "base", downgrade=True)
    assert asyncio.run(_table_names(url)) == set()
    run_migrations(url)
    assert asyncio.run(_table_names(url)) == set(Base.metadata.tables)


def test_the_migrations_build_exactly_the_models(database_url):
    # The equivalent of `alembic check`: autogenerate finds nothing to do.
    assert asyncio.run(_schema_drift(database_url)) == []


async def test_the_default_roles_hold_the_documented_permissions(session):
    rows = await session.execute(
        text(
            "SELECT r.name, p.name FROM roles r "
            "JOIN role_permissions rp ON rp.role_id = r.id "
            "JOIN permissions p ON p.id = rp.permission_id"
        )
    )
    roles: dict[str, set[str]] = {}
    for role, permission in rows:
        roles.setdefault(role, set()).add(permission)
    assert roles == EXPECTED_ROLES


async def test_every_permission_is_seeded_once(session):
    names = list(await session.scalars(text("SELECT name FROM permissions ORDER BY name")))
    assert names == sorted(EXPECTED_ROLES["admin"])
