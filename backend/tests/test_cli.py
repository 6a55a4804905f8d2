import asyncio

from pwdlib import PasswordHash
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import selectinload
from typer.testing import CliRunner

from app.auth.models import User
from app.cli import cli
from tests.helpers import PASSWORD

runner = CliRunner()


def _load_user(database_url: str, email: str) -> User | None:
    async def load() -> User | None:
        engine = create_async_engine(database_url)
        async with engine.connect() as connection:
            result = await connection.execute(select(User.__table__).where(User.email == email))
            row = result.first()
        await engine.dispose()
        if row is None:
            return None
        return User(**row._asdict())

    return asyncio.run(load())


def _role_names(database_url: str, email: str) -> list[str]:
    async def load() -> list[str]:
        engine = create_async_engine(database_url)
        from sqlalchemy.ext.asyncio import async_sessionmaker

        async with async_sessionmaker(engine)() as session:
            user = await session.scalar(
                select(User).options(selectinload(User.roles)).where(User.email == email)
            )
            names = sorted(role.name for role in user.roles) if user else []
        await engine.dispose()
        return names

    return asyncio.run(load())


def test_create_admin_creates_an_admin_with_the_given_password(cli_environment):
    result = runner.invoke(
        cli, ["create-admin", "--email", "Root@Example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com" in result.output
    user = _load_user(cli_environment, "root@example.com")
    assert user is not None
    assert PasswordHash.recommended().verify(PASSWORD, user.hashed_password)
    assert _role_names(cli_environment, "root@example.com") == ["admin"]


def test_create_admin_asks_for_the_password_when_it_is_not_given(cli_environment):
    result = runner.invoke(
        cli, ["create-admin", "--email", "asked@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert _role_names(cli_environment, "asked@example.com") == ["admin"]


def test_create_admin_refuses_a_weak_password(cli_environment):
    result = runner.invoke(
        cli, ["create-admin", "--email", "weak@example.com", "--password", "short"]
    )
    assert result.exit_code == 1
    assert "Password refused" in result.output
    assert _load_user(cli_environment, "weak@example.com") is None


def test_create_admin_refuses_an_invalid_email(cli_environment):
    result = runner.invoke(cli, ["create-admin", "--email", "not-an-email", "--password", PASSWORD])
    assert result.exit_code != 0
    assert "valid email" in result.output


def test_create_admin_grants_admin_to_an_existing_user_and_is_idempotent(cli_environment):
    arguments = ["create-admin", "--email", "twice@example.com", "--password", PASSWORD]
    assert runner.invoke(cli, arguments).exit_code == 0
    again = runner.invoke(cli, arguments)
    assert again.exit_code == 0, again.output
    assert "Granted admin to twice@example.com" in again.output
    assert _role_names(cli_environment, "twice@example.com") == ["admin"]


def test_create_admin_says_so_when_it_reactivates_a_deactivated_account(cli_environment):
    arguments = ["create-admin", "--email", "dormant@example.com", "--password", PASSWORD]
    assert runner.invoke(cli, arguments).exit_code == 0
    _deactivate(cli_environment, "dormant@example.com")

    result = runner.invoke(cli, arguments)

    assert result.exit_code == 0, result.output
    assert "Reactivated dormant@example.com" in result.output
    user = _load_user(cli_environment, "dormant@example.com")
    assert user is not None
    assert user.is_active


def test_create_admin_does_not_speak_of_reactivating_an_active_account(cli_environment):
    arguments = ["create-admin", "--email", "awake@example.com", "--password", PASSWORD]
    assert runner.invoke(cli, arguments).exit_code == 0

    result = runner.invoke(cli, arguments)

    assert result.exit_code == 0, result.output
    assert "eactivat" not in result.output


def _deactivate(database_url: str, email: str) -> None:
    async def deactivate() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(
                update(User.__table__).where(User.email == email).values(is_active=False)
            )
        await engine.dispose()

    asyncio.run(deactivate())
