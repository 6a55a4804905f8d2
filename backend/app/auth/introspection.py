"""Token introspection (RFC 7662): whether a token is live now, for other services that must
honour py-auth's instant revocation. Access tokens, refresh tokens and personal access tokens
are answered; anything else (expired, revoked, unknown, malformed) is `{active: false}`.

The caller is a service account (HTTP Basic client authentication) or bearer of a token whose
caller holds introspect_tokens: a token's data is told to no one else."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.audit_log import writer as audit_log
from app.auth.caller import load_principal
from app.auth.client_credentials import authenticate_client
from app.auth.dependencies import (
    decode_access_token,
    get_current_user,
    missing_permissions,
    oauth2_scheme,
)
from app.auth.models import AuthSession, RefreshToken
from app.auth.oauth2 import basic_credentials
from app.auth.pat_caller import principal_of, read_token, refusal_of
from app.auth.pat_format import looks_like_personal_access_token
from app.auth.permissions import Perm
from app.auth.schemas import Credential, Principal
from app.core.app_state import database_of
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import client_context
from app.core.database import Database
from app.core.errors import AppError, PermissionDenied
from app.core.security import AccessClaims, AccessTokenCodec, hash_opaque_token

TokenType = Literal["access_token", "refresh_token", "personal_access_token"]
KIND_ACCESS: TokenType = "access_token"
KIND_REFRESH: TokenType = "refresh_token"
KIND_PERSONAL: TokenType = "personal_access_token"


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2. Only `active` when the token is not live."""

    active: bool
    sub: str | None = None
    scope: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    aud: str | None = None
    jti: str | None = None
    sid: str | None = None
    token_type: TokenType | None = None
    credential: Credential | None = Field(
        default=None, description="How the token's holder authenticated (a py-auth extension)."
    )


INACTIVE = IntrospectionResponse(active=False)


async def introspecting_caller(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> int:
    """The id of the caller: a service account by HTTP Basic (its client credentials), else
    the bearer of a token whose caller holds introspect_tokens (403 otherwise, audited)."""
    basic = basic_credentials(request)
    if basic is not None:
        account = await authenticate_client(
            database_of(request), client_id=basic.client_id, client_secret=basic.client_secret
        )
        return account.user_id
    user = await get_current_user(request, token)
    if missing := missing_permissions([Perm.INTROSPECT_TOKENS], user.permissions):
        database = database_of(request)
        async with database.sessionmaker() as denial:
            await audit_log.record_denial(
                denial,
                await client_context(request),
                actor_id=user.id,
                route="POST /auth/introspect",
                missing=missing,
                token_prefix=user.token_prefix,
            )
            await denial.commit()
        raise PermissionDenied(f"Missing permission: {', '.join(missing)}.", missing=missing)
    return user.id


# Read by route_requirements (the OpenAPI document, the policy, the deny-by-default test): the
# route needs a caller, and of a bearer caller introspect_tokens. A service account that
# authenticates with its client credentials (HTTP Basic) needs no permission: introspecting
# is what it is for.
introspecting_caller.authenticates = True  # type: ignore[attr-defined]
introspecting_caller.required_permissions = (Perm.INTROSPECT_TOKENS,)  # type: ignore[attr-defined]


async def introspect(
    database: Database,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    *,
    token: str,
) -> IntrospectionResponse:
    if looks_like_personal_access_token(token):
        return await _personal_access_token(database, token)
    verified = await _access_token_claims(access_tokens, token)
    if verified is not None:
        return await _access_token(database, *verified)
    return await _refresh_token(database, settings, token)


def _scope(principal: Principal) -> str:
    return " ".join(sorted(principal.permissions))


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


async def _personal_access_token(database: Database, token: str) -> IntrospectionResponse:
    rows = await read_token(database, token)
    if not rows or refusal_of(rows[0], utcnow()) is not None:
        return INACTIVE
    principal = principal_of(rows)
    return IntrospectionResponse(
        active=True,
        sub=str(principal.id),
        scope=_scope(principal),
        exp=_epoch(rows[0].expires_at),
        iat=_epoch(rows[0].token_created_at),
        token_type=KIND_PERSONAL,
        credential=principal.credential,
    )


async def _access_token_claims(
    access_tokens: AccessTokenCodec, token: str
) -> tuple[AccessClaims, dict[str, object]] | None:
    """The claims of an access token that the codec accepts (signature, type, times; a key
    another process has just made included), else None; and all its claims, read again
    unverified only after the codec has verified them."""
    try:
        verified = await decode_access_token(access_tokens, token)
    except AppError:
        return None
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return verified, claims


async def _access_token(
    database: Database, verified: AccessClaims, claims: dict[str, object]
) -> IntrospectionResponse:
    user_id, session_id = verified.user_id, verified.session_id
    principal = await load_principal(database, user_id, session_id, claims=verified)
    if principal is None or not principal.is_active:
        return INACTIVE
    return IntrospectionResponse(
        active=True,
        sub=str(user_id),
        scope=_scope(principal),
        exp=_int(claims["exp"]),
        iat=_int(claims["iat"]),
        iss=str(claims["iss"]),
        aud=str(claims["aud"]),
        jti=str(claims["jti"]),
        sid=str(session_id),
        token_type=KIND_ACCESS,
        credential=principal.credential,
    )


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


async def _refresh_token(
    database: Database, settings: Settings, token: str
) -> IntrospectionResponse:
    now = utcnow()
    # A session of its own, closed before the caller is read: no request here holds a pooled
    # connection while it waits for another.
    async with database.sessionmaker() as session:
        result = await session.execute(
            select(
                RefreshToken.user_id,
                RefreshToken.family_id,
                RefreshToken.created_at,
                RefreshToken.expires_at,
            )
            .join(AuthSession, AuthSession.id == RefreshToken.family_id)
            .where(
                RefreshToken.token_hash == hash_opaque_token(token),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
                AuthSession.last_used_at >= now - timedelta(days=settings.refresh_idle_days),
            )
        )
        row = result.first()
    if row is None:
        return INACTIVE
    principal = await load_principal(database, row.user_id, row.family_id)
    if principal is None or not principal.is_active:
        return INACTIVE
    return IntrospectionResponse(
        active=True,
        sub=str(row.user_id),
        scope=_scope(principal),
        exp=_epoch(row.expires_at),
        iat=_epoch(row.created_at),
        iss=settings.jwt_issuer,
        aud=settings.jwt_audience,
        sid=str(row.family_id),
        token_type=KIND_REFRESH,
        credential=principal.credential,
    )
