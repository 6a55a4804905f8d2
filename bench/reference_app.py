"""The floor of py-auth's stack: a bare FastAPI app that does the least /users/me can do.

`GET /health` is py-auth's very handler, with nothing around it. `GET /me` verifies the bearer
JWT as py-auth does (pinned algorithm, issuer, audience, required claims, `typ`), runs the very
same query as `app.auth.service.load_principal` (user, roles, permissions and, for a token with
a session id, whether that session is live) with raw asyncpg, in one round trip with no ORM,
no session and no transaction, and answers the same JSON as py-auth's /users/me. No middleware,
no dependencies, no response model.

The bench serves it beside py-auth with the same uvicorn flags and the same settings:

    uvicorn --factory --app-dir ../bench reference_app:create_app --no-access-log \
        --no-proxy-headers --workers 1

It reads DATABASE_URL (PostgreSQL only: raw asyncpg), JWT_SECRET, JWT_ALGORITHM, PUBLIC_URL,
JWT_ISSUER, JWT_AUDIENCE, DB_POOL_SIZE, DB_MAX_OVERFLOW and DB_TIMEOUT_SECONDS, with py-auth's
defaults. With an asymmetric algorithm (RS256, py-auth's default) it verifies as py-auth does:
the key named by the token's `kid`, among the public keys of py-auth's signing_keys table (read
when it starts), the algorithm pinned to that key's.
"""

import base64
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

# What SQLAlchemy compiles load_principal's statement to, written out (tests/
# test_bench_reference.py checks that they stay the same).
ME_SQL = """
SELECT users.email, users.full_name, users.is_active, users.created_at,
       users.email_verified_at IS NOT NULL AS email_verified,
       totp_credentials.confirmed_at IS NOT NULL AS mfa_enabled,
       roles.name, permissions.name,
       EXISTS (SELECT * FROM auth_sessions
               WHERE auth_sessions.id = $1 AND auth_sessions.user_id = users.id
                 AND auth_sessions.revoked_at IS NULL
                 AND auth_sessions.credentials_version = users.credentials_version)
       AS session_is_live,
       EXISTS (SELECT * FROM signing_keys
               WHERE signing_keys.kid = $2 AND signing_keys.retired_at IS NOT NULL)
       AS key_is_retired,
       users.is_service_account
FROM users
LEFT OUTER JOIN totp_credentials ON totp_credentials.user_id = users.id
LEFT OUTER JOIN user_roles ON user_roles.user_id = users.id
LEFT OUTER JOIN roles ON roles.id = user_roles.role_id
LEFT OUTER JOIN role_permissions ON role_permissions.role_id = roles.id
LEFT OUTER JOIN permissions ON permissions.id = role_permissions.permission_id
WHERE users.id = $3
"""
# The public keys of the configured algorithm that still verify (py-auth's key ring, read once).
KEYS_SQL = """
SELECT kid, public_jwk FROM signing_keys
WHERE algorithm = $1 AND retired_at IS NULL AND (verifies_until IS NULL OR verifies_until > now())
"""
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")

ACCESS_TOKEN_TYPE = "access"
ACCESS_TOKEN_JWT_TYP = "at+jwt"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud", "jti", "type", "auth_time", "amr"]
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
    """The /me JSON of a user from the rows of the query, or None when there is no active
    user (or the token's session is no longer live)."""
    if not rows:
        return None
    email, full_name, is_active, created_at, email_verified, mfa_enabled = rows[0][:6]
    if not is_active or not rows[0][8] or rows[0][9]:
        return None
    return {
        "id": user_id,
        "email": email,
        "full_name": full_name,
        "is_active": is_active,
        "created_at": iso_utc(created_at),
        "roles": sorted({row[6] for row in rows if row[6] is not None}),
        "email_verified": email_verified,
        "mfa_enabled": mfa_enabled,
        "permissions": sorted({row[7] for row in rows if row[7] is not None}),
    }


def _is_access_token_typ(typ: object) -> bool:
    """As py-auth: "at+jwt" or "application/at+jwt", in any case (RFC 9068, RFC 7515)."""
    return isinstance(typ, str) and typ.lower().removeprefix("application/") == ACCESS_TOKEN_JWT_TYP


def _unverified_kid(token: str) -> str:
    """The header's kid, read by hand as py-auth reads it (PyJWT's get_unverified_header decodes
    the whole token): only to choose the key, which then checks the signed header."""
    segment = token.partition(".")[0]
    kid = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"]
    if not isinstance(kid, str):
        raise jwt.InvalidTokenError
    return kid


def _bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def access_token_key(secret: str) -> bytes:
    """py-auth's access-token signing key, as app.core.security.derive_key makes it from
    JWT_SECRET: HKDF-SHA256 (RFC 5869), no salt, 64 bytes. Written out: this app imports nothing
    of py-auth (tests/test_bench_reference.py checks that the two agree)."""
    prk = hmac.digest(bytes(32), secret.encode(), "sha256")
    info = b"py-auth access-token signing"
    first = hmac.digest(prk, info + b"\x01", "sha256")
    return first + hmac.digest(prk, first + info + b"\x02", "sha256")


def create_app(
    database_url: str | None = None,
    jwt_secret: str | None = None,
    *,
    jwt_algorithm: str | None = None,
    jwt_issuer: str | None = None,
    jwt_audience: str | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    timeout_seconds: float | None = None,
) -> FastAPI:
    env = os.environ
    dsn = asyncpg_dsn(database_url or env["DATABASE_URL"])
    hmac_key = access_token_key(jwt_secret or env["JWT_SECRET"])
    algorithm = jwt_algorithm or env.get("JWT_ALGORITHM", "RS256")
    algorithms = [algorithm]
    public_url = env.get("PUBLIC_URL", "").rstrip("/")
    issuer = jwt_issuer or public_url or env.get("JWT_ISSUER", "py-auth")
    public_keys: dict[str, Any] = {}
    audience = jwt_audience or env.get("JWT_AUDIENCE", "py-auth")
    min_size = pool_size or int(env.get("DB_POOL_SIZE", "10"))
    overflow = max_overflow if max_overflow is not None else int(env.get("DB_MAX_OVERFLOW", "0"))
    timeout = timeout_seconds or float(env.get("DB_TIMEOUT_SECONDS", "5"))
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # py-auth's connection settings: connect and statement timeouts.
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=min_size + overflow,
            timeout=timeout,
            command_timeout=timeout,
            server_settings={"statement_timeout": str(int(timeout * 1000))},
        )
        pools.append(pool)
        if algorithm not in HMAC_ALGORITHMS:
            for kid, jwk in await pool.fetch(KEYS_SQL, algorithm):
                public_keys[kid] = jwt.PyJWK(json.loads(jwk), algorithm).key
        yield
        await pools.pop().close()

    app = FastAPI(title="py-auth bench reference", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        # py-auth's very handler: what differs is what py-auth wraps around it.
        return {"status": "ok"}

    @app.get("/me")
    async def me(request: Request) -> JSONResponse:
        token = _bearer_token(request.scope["headers"])
        if not token:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        try:
            if algorithm in HMAC_ALGORITHMS:
                key: Any = hmac_key
            else:
                key = public_keys[_unverified_kid(token)]
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            claims = decoded["payload"]
            if not _is_access_token_typ(decoded["header"].get("typ")):
                raise jwt.InvalidTokenError
            if claims["type"] != ACCESS_TOKEN_TYPE:
                raise jwt.InvalidTokenError
            user_id = int(claims["sub"])
            session_id = uuid.UUID(claims["sid"])  # required, as py-auth requires it
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
            return JSONResponse(UNAUTHORIZED, status_code=401)
        kid = decoded["header"].get("kid") or ""
        rows = await pools[0].fetch(ME_SQL, session_id, kid, user_id)
        body = me_body(user_id, rows)
        if body is None:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        return JSONResponse(body)

    return app
