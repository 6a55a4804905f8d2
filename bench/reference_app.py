"""The floor of py-auth's stack: a bare FastAPI app that does the least /users/me can do.

`GET /health` answers `{"status": "ok"}`; `GET /me` verifies the bearer JWT the way py-auth does
(pinned algorithm, issuer, audience, required claims), runs the very same user + roles +
permissions query as `app.auth.service.load_principal` with raw asyncpg (one pool, one round
trip, no ORM, no session, no transaction), and answers the same JSON as py-auth's /users/me.
No middleware, no dependencies, no response model.

The bench serves it beside py-auth, with the same uvicorn flags and the same settings:

    uvicorn --factory --app-dir ../bench reference_app:create_app --no-access-log

It reads DATABASE_URL (PostgreSQL only: raw asyncpg), JWT_SECRET, JWT_ALGORITHM, JWT_ISSUER,
JWT_AUDIENCE, DB_POOL_SIZE and DB_MAX_OVERFLOW from the environment, with py-auth's defaults.
"""

import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

# What SQLAlchemy compiles load_principal's statement to, written out.
ME_SQL = """
SELECT users.email, users.full_name, users.is_active, users.created_at,
       roles.name, permissions.name
FROM users
LEFT OUTER JOIN user_roles ON user_roles.user_id = users.id
LEFT OUTER JOIN roles ON roles.id = user_roles.role_id
LEFT OUTER JOIN role_permissions ON role_permissions.role_id = roles.id
LEFT OUTER JOIN permissions ON permissions.id = role_permissions.permission_id
WHERE users.id = $1
"""
REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud", "jti", "type"]
UNAUTHORIZED = {"detail": "The access token is invalid.", "code": "invalid_token"}


def asyncpg_dsn(database_url: str) -> str:
    """`postgresql+asyncpg://...` (SQLAlchemy's form) as a DSN asyncpg accepts."""
    scheme, _, rest = database_url.partition("://")
    if not scheme.startswith("postgresql"):
        raise ValueError("the reference app runs on PostgreSQL only (raw asyncpg)")
    return f"postgresql://{rest}"


def iso_utc(value: datetime) -> str:
    """A timestamp as pydantic writes an aware UTC datetime (what py-auth answers)."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def me_body(user_id: int, rows: Sequence[Sequence[Any]]) -> dict[str, Any] | None:
    """The /me JSON of a user from the rows of ME_SQL, or None when there is no active user."""
    if not rows:
        return None
    email, full_name, is_active, created_at = rows[0][:4]
    if not is_active:
        return None
    return {
        "id": user_id,
        "email": email,
        "full_name": full_name,
        "is_active": is_active,
        "created_at": iso_utc(created_at),
        "roles": sorted({row[4] for row in rows if row[4] is not None}),
        "permissions": sorted({row[5] for row in rows if row[5] is not None}),
    }


def _bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def create_app(
    database_url: str | None = None,
    jwt_secret: str | None = None,
    *,
    jwt_algorithm: str | None = None,
    jwt_issuer: str | None = None,
    jwt_audience: str | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
) -> FastAPI:
    env = os.environ
    dsn = asyncpg_dsn(database_url or env["DATABASE_URL"])
    key = jwt_secret or env["JWT_SECRET"]
    algorithms = [jwt_algorithm or env.get("JWT_ALGORITHM", "HS256")]
    issuer = jwt_issuer or env.get("JWT_ISSUER", "py-auth")
    audience = jwt_audience or env.get("JWT_AUDIENCE", "py-auth")
    min_size = pool_size or int(env.get("DB_POOL_SIZE", "10"))
    overflow = max_overflow if max_overflow is not None else int(env.get("DB_MAX_OVERFLOW", "10"))
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pools.append(
            await asyncpg.create_pool(dsn, min_size=min_size, max_size=min_size + overflow)
        )
        yield
        await pools.pop().close()

    app = FastAPI(title="py-auth bench reference", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        # py-auth's very handler: the difference is what py-auth wraps around it.
        return {"status": "ok"}

    @app.get("/me")
    async def me(request: Request) -> JSONResponse:
        token = _bearer_token(request.scope["headers"])
        if not token:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            user_id = int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError):
            return JSONResponse(UNAUTHORIZED, status_code=401)
        body = me_body(user_id, await pools[0].fetch(ME_SQL, user_id))
        if body is None:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        return JSONResponse(body)

    return app
