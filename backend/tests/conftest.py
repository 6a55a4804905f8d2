"""Fixtures: one migrated database per run (SQLite, or PostgreSQL with TEST_DATABASE_URL); an app
on it; `clean_database`, which empties it back to its seeded state after a test, and which
every fixture that writes depends on (client, session, the factories, the CLI's environment,
real servers); small factories."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth.client_credentials import hash_client_secret, new_client_id, new_client_secret
from app.auth.models import Permission, Role, ServiceAccount, User
from app.auth.sessions import start_session
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.security import AccessTokenCodec
from app.keys.models import SigningKeyRow
from app.main import create_app
from app.models import Base
from app.service_accounts.service import EMAIL_DOMAIN, NO_PASSWORD
from tests.helpers import (
    MAIL_FOLDER,
    ON_POSTGRES,
    PASSWORD,
    SEED_TABLES,
    TEST_DATABASE_URL,
    Clock,
    freeze_clock,
    issue_access_token,
    load_signing_keys,
    make_settings,
    run_migrations,
    set_cli_environment,
)
from tests.mailbox import Mailbox
from tests.servers import Server, server_env, start_make_run_server, start_server


async def _run_on_server(sql: str) -> None:
    """CREATE/DROP DATABASE, through the database TEST_DATABASE_URL names."""
    engine = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.exec_driver_sql(sql)
    await engine.dispose()


def _create_database() -> str:
    """A new, empty PostgreSQL database on the TEST_DATABASE_URL server: runs never collide."""
    name = f"pyauth_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_run_on_server(f'CREATE DATABASE "{name}"'))
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def _drop_database(database_url: str) -> None:
    name = make_url(database_url).database
    asyncio.run(_run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class DatabaseFactory(Protocol):
    def __call__(self) -> str: ...


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """Makes empty databases of the back end under test; drops them at the end of the run."""
    created: list[str] = []

    def factory() -> str:
        if ON_POSTGRES:
            url = _create_database()
        else:
            path = tmp_path_factory.mktemp("db") / "test.db"
            url = f"sqlite+aiosqlite:///{path}"
        created.append(url)
        return url

    yield factory
    if ON_POSTGRES:
        for url in created:
            _drop_database(url)


@pytest.fixture(scope="session")
def database_url(new_database: DatabaseFactory) -> str:
    url = new_database()
    run_migrations(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def seed_rows(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """The rows the migrations seeded, to restore after each test."""
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        rows = {
            name: [
                dict(row._mapping)
                for row in await connection.execute(select(Base.metadata.tables[name]))
            ]
            for name in SEED_TABLES
        }
    await engine.dispose()
    return rows


@pytest.fixture(scope="session")
async def app(settings: Settings, seed_rows: Any) -> AsyncIterator[Any]:
    application = create_app(settings)
    await load_signing_keys(application)
    yield application
    await application.state.database.dispose()


@pytest.fixture(scope="session")
async def signing_key_rows(app: Any) -> list[dict[str, Any]]:
    """The signing key the app made at its first start, to restore after each test: every
    app of the run signs with it, and no test waits for RSA key generation. Dated a month
    back, so that it signs for the tests that move the clock by days, either way."""
    month_ago = utcnow() - timedelta(days=30)
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            update(SigningKeyRow).values(published_at=month_ago, signs_from=month_ago)
        )
        rows = [dict(row._mapping) for row in await connection.execute(select(SigningKeyRow))]
    if app.state.access_tokens.keys is not None:
        await app.state.access_tokens.keys.reload()
    return rows


@pytest.fixture
async def clean_database(
    app: Any, seed_rows: Any, signing_key_rows: list[dict[str, Any]]
) -> AsyncIterator[None]:
    """After the test, empty every table and restore the seeded rows and the signing key.
    Every fixture that writes depends on it, so it runs after theirs have ended; a test that
    writes by other means (an app of its own) names it."""
    yield
    async with app.state.database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
        for name in SEED_TABLES:
            await connection.execute(insert(Base.metadata.tables[name]), seed_rows[name])
        if signing_key_rows:
            await connection.execute(insert(SigningKeyRow), signing_key_rows)
    if app.state.access_tokens.keys is not None:
        await app.state.access_tokens.keys.reload()  # a test may have rotated the set


@pytest.fixture
async def client(app: Any, clean_database: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def session(app: Any, clean_database: None) -> AsyncIterator[AsyncSession]:
    """A session of its own, for arranging data and checking what the API wrote."""
    async with app.state.database.sessionmaker() as db_session:
        yield db_session


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(app: Any, session: AsyncSession) -> MakeUser:
    """`await make_user(roles=["editor"])`: a committed user whose password is PASSWORD."""
    hasher = app.state.password_hasher
    counter = iter(range(1, 1_000_000))

    async def factory(
        email: str | None = None,
        *,
        roles: Sequence[str] = ("viewer",),
        password: str = PASSWORD,
        is_active: bool = True,
        full_name: str | None = None,
    ) -> User:
        role_rows = list(await session.scalars(select(Role).where(Role.name.in_(roles))))
        user = User(
            email=email or f"user{next(counter)}-{uuid.uuid4().hex[:6]}@example.com",
            hashed_password=await hasher.hash(password),
            full_name=full_name,
            is_active=is_active,
            roles=role_rows,
        )
        session.add(user)
        await session.commit()
        return user

    return factory


MakeRole = Callable[..., Awaitable[Role]]


@pytest.fixture
def make_role(session: AsyncSession) -> MakeRole:
    """`await make_role("user-manager", permissions=["read_user"])`: a committed role."""

    async def factory(name: str, *, permissions: Sequence[str] = ()) -> Role:
        rows = list(
            await session.scalars(select(Permission).where(Permission.name.in_(permissions)))
        )
        assert len(rows) == len(set(permissions)), f"unknown permissions in {permissions}"
        role = Role(name=name, description="", permissions=rows)
        session.add(role)
        await session.commit()
        return role

    return factory


MakeSession = Callable[[User], Awaitable[uuid.UUID]]


@pytest.fixture
def make_session(app: Any, session: AsyncSession) -> MakeSession:
    """`await make_session(user)`: the id of a new live session of the user, started as a
    login starts one, and committed."""
    codec: AccessTokenCodec = app.state.access_tokens

    async def factory(user: User) -> uuid.UUID:
        # Read now: the test may have changed the user's credentials since making them.
        version = await session.scalar(select(User.credentials_version).where(User.id == user.id))
        assert version is not None, f"no user {user.id}"
        pair = await start_session(
            session,
            codec,
            app.state.settings,
            ClientContext(),
            user_id=user.id,
            credentials_version=version,
        )
        await session.commit()
        return codec.decode(pair.access_token).session_id

    return factory


AuthHeaders = Callable[[User], Awaitable[dict[str, str]]]


@pytest.fixture
def auth_headers(app: Any, make_session: MakeSession) -> AuthHeaders:
    """`await auth_headers(user)`: Bearer headers for a user, with an access token of a new live
    session of theirs, issued the way login issues it."""
    codec: AccessTokenCodec = app.state.access_tokens

    async def headers(user: User) -> dict[str, str]:
        session_id = await make_session(user)
        token = issue_access_token(codec, user.id, session_id)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def statements(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL that py-auth sends while the test runs: through SQLAlchemy's cursor, or straight
    on asyncpg's connection (a hot path may skip SQLAlchemy's execution layer; and there, on
    PostgreSQL, go the BEGIN, COMMIT and ROLLBACK of SQLAlchemy's transactions)."""
    seen: list[str] = []
    engine = app.state.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    if ON_POSTGRES:
        import asyncpg

        for method in ("fetch", "execute"):
            monkeypatch.setattr(asyncpg.Connection, method, _recording(seen, method))
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _recording(seen: list[str], method: str) -> Callable[..., Awaitable[Any]]:
    import asyncpg

    original = getattr(asyncpg.Connection, method)

    async def call_and_record(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(query)
        return await original(self, query, *args, **kwargs)

    return call_and_record


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The app's clock, stopped at now: `clock.advance(days=1)`."""
    return freeze_clock(monkeypatch)


@pytest.fixture
def cli_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, clean_database: None
) -> str:
    """The environment `python -m app.cli` reads, on the test database (its URL); a test adds
    a setting with `monkeypatch.setenv`."""
    set_cli_environment(monkeypatch, database_url)
    return database_url


StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def serve(
    clean_database: None, tmp_path: Path, database_url: str
) -> AsyncIterator[StartServer]:
    """`await serve("--workers", "2", LOG_LEVEL="DEBUG")`: py-auth under uvicorn in a process of
    its own (tests/servers.py), on the test database or on `database_url=...`, with these
    uvicorn arguments and settings; `make_run=True`: as `make run` starts it. Whatever still
    runs after the test is killed, before the database is emptied."""
    servers: list[Server] = []

    async def start(
        *uvicorn_args: str,
        database_url: str = database_url,
        make_run: bool = False,
        **settings: str,
    ) -> Server:
        output = tmp_path / f"server-{len(servers)}.log"
        env = server_env(database_url, **settings)
        if make_run:
            assert not uvicorn_args, "`make run` takes no uvicorn arguments"
            server = await start_make_run_server(env, output)
        else:
            server = await start_server(env, output, *uvicorn_args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """The mail the app sends during the test (an empty box at the start)."""
    box = Mailbox(MAIL_FOLDER)
    box.clear()
    yield box
    box.clear()


MakeToken = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_token(client: httpx.AsyncClient, auth_headers: AuthHeaders) -> MakeToken:
    """`await make_token(user, scopes=["read_article"])`: a personal access token of the user,
    made through the API as a logged-in user makes one; its JSON (`token` is the token)."""

    async def factory(
        user: User, *, scopes: Sequence[str] = ("read_article",), **body: Any
    ) -> dict[str, Any]:
        response = await client.post(
            "/users/me/tokens",
            json={"name": "script", "scopes": list(scopes), **body},
            headers=await auth_headers(user),
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return factory


@dataclass(frozen=True)
class ServiceAccountCredentials:
    user_id: int
    client_id: str
    client_secret: str


MakeServiceAccount = Callable[..., Awaitable[ServiceAccountCredentials]]


@pytest.fixture
def make_service_account(session: AsyncSession) -> MakeServiceAccount:
    """`await make_service_account(roles=["viewer"])`: a committed service account, as an
    administrator creates one, and its credentials."""
    counter = iter(range(1, 1_000_000))

    async def factory(
        *, roles: Sequence[str] = ("viewer",), client_secret: str | None = None
    ) -> ServiceAccountCredentials:
        role_rows = list(await session.scalars(select(Role).where(Role.name.in_(roles))))
        client_id = f"{new_client_id()}{next(counter)}"
        secret = client_secret or new_client_secret()
        user = User(
            email=f"{client_id}@{EMAIL_DOMAIN}",
            hashed_password=NO_PASSWORD,
            full_name="Service",
            is_service_account=True,
            roles=role_rows,
        )
        session.add(user)
        await session.flush()
        session.add(
            ServiceAccount(
                user_id=user.id, client_id=client_id, secret_hash=hash_client_secret(secret)
            )
        )
        await session.commit()
        return ServiceAccountCredentials(user.id, client_id, secret)

    return factory
