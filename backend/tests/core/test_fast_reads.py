"""Every registered fast read gives, through Database.fetch, exactly the rows SQLAlchemy's own
execution of its statement gives (on PostgreSQL the fast path skips SQLAlchemy's layers and
type processing: this is what keeps it honest)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import app.main  # noqa: F401  (imports every domain, and so registers every read of the app)
from app.articles.models import Article
from app.auth.models import AuthSession, Permission, PersonalAccessToken, ServiceAccount
from app.auth.pat_format import display_prefix, new_personal_access_token
from app.core.clock import utcnow
from app.core.fast_read import FastRead
from app.core.security import hash_opaque_token

Arrange = Callable[[Any, Any], Awaitable[dict[str, Any]]]


async def _principal(session: Any, make_user: Any) -> dict[str, Any]:
    user = await make_user(roles=["editor", "viewer"], full_name="Reader")
    auth_session = AuthSession(user_id=user.id, expires_at=user.created_at)
    session.add(auth_session)
    await session.commit()
    return {"user_id": user.id, "session_id": auth_session.id, "kid": ""}


async def _articles_page(session: Any, make_user: Any) -> dict[str, Any]:
    author = await make_user(full_name="Author")
    session.add_all(
        [Article(title=f"T{n}", body="b", author_id=author.id if n % 2 else None) for n in range(3)]
    )
    await session.commit()
    return {"limit": 10, "offset": 0}


async def _login_account(session: Any, make_user: Any) -> dict[str, Any]:
    user = await make_user(email="reader@example.com")
    return {"email": user.email}


async def _personal_access_token_caller(session: Any, make_user: Any) -> dict[str, Any]:
    user = await make_user(roles=["editor", "viewer"], full_name="Scripter")
    scope = await session.scalar(select(Permission).where(Permission.name == "read_article"))
    text = new_personal_access_token()
    session.add(
        PersonalAccessToken(
            user_id=user.id,
            name="script",
            token_hash=hash_opaque_token(text),
            display_prefix=display_prefix(text),
            expires_at=utcnow() + timedelta(days=1),
            last_used_at=utcnow(),
            scopes=[scope],
        )
    )
    await session.commit()
    return {"token_hash": hash_opaque_token(text)}


async def _service_account_client(session: Any, make_user: Any) -> dict[str, Any]:
    user = await make_user(roles=["viewer"])
    session.add(ServiceAccount(user_id=user.id, client_id="reader", secret_hash="0" * 64))
    await session.commit()
    return {"client_id": "reader"}


# Each read of the app, with the data and parameters that make it return rows.
ARRANGE: dict[str, Arrange] = {
    "principal": _principal,
    "articles_page": _articles_page,
    "login_account": _login_account,
    "personal_access_token_caller": _personal_access_token_caller,
    "service_account_client": _service_account_client,
}
# Writing statements (refresh-token rotation) change what they read: tests/auth/test_refresh.py
# proves rotation on both back ends.
APP_READS = sorted(
    name
    for name, read in FastRead.registry.items()
    if not name.startswith("test.") and not read.writes
)


def test_every_read_of_the_app_is_checked_here():
    assert sorted(ARRANGE) == APP_READS


@pytest.mark.parametrize("name", APP_READS)
async def test_a_fast_read_gives_the_rows_sqlalchemy_gives(app, session, make_user, name):
    read = FastRead.registry[name]
    parameters = await ARRANGE[name](session, make_user)

    fast = await app.state.database.fetch(read, parameters)

    async with app.state.database.engine.connect() as connection:
        expected = (await connection.execute(read.statement, parameters)).all()
    assert fast, "the arranged data gives no row: the comparison would prove nothing"
    assert fast == [read.row_type(*row) for row in expected]
    assert [type(value) for value in fast[0]] == [type(value) for value in expected[0]]
