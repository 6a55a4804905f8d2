"""The caller of a request: the user, their roles and permissions, and whether the
access token's session is live and its signing key not retired, read in one query (the hot
path of every request)."""

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, exists, select

from app.auth.models import (
    AuthSession,
    Permission,
    Role,
    TotpCredential,
    User,
    role_permissions,
    user_roles,
)
from app.auth.schemas import Principal
from app.core.database import Database
from app.core.fast_read import FastRead
from app.core.security import AccessClaims
from app.keys.models import SigningKeyRow


class PrincipalRow(NamedTuple):
    """One row per permission of each role of the user (outer joins: a user without roles, or
    a role without permissions, still gives a row, with None there)."""

    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    email_verified: bool
    mfa_enabled: bool
    role: str | None
    permission: str | None
    session_is_live: bool
    key_is_retired: bool
    is_service_account: bool


# The hot path: the user, their roles and permissions, whether the token's session is still
# live (not revoked, and started under the user's current credentials), and whether the user is
# a service account (then the session is a client credentials grant), in one query.
PRINCIPAL = FastRead(
    "principal",
    select(
        User.email,
        User.full_name,
        User.is_active,
        User.created_at,
        User.email_verified_at.is_not(None).label("email_verified"),
        TotpCredential.confirmed_at.is_not(None).label("mfa_enabled"),
        Role.name,
        Permission.name,
        exists()
        .where(
            AuthSession.id == bindparam("session_id", type_=AuthSession.id.type),
            AuthSession.user_id == User.id,
            AuthSession.revoked_at.is_(None),
            # A login that checked the password before a change of credentials committed
            # holds the old version: its session was never live.
            AuthSession.credentials_version == User.credentials_version,
        )
        .label("session_is_live"),
        # A key retired in an emergency (`keys retire KID --now`) ends its tokens here, in
        # every process at once; an HMAC token's kid is "", which names no key.
        exists()
        .where(
            SigningKeyRow.kid == bindparam("kid", type_=SigningKeyRow.kid.type),
            SigningKeyRow.retired_at.is_not(None),
        )
        .label("key_is_retired"),
        User.is_service_account,
    )
    .outerjoin(TotpCredential, TotpCredential.user_id == User.id)
    .outerjoin(user_roles, user_roles.c.user_id == User.id)
    .outerjoin(Role, Role.id == user_roles.c.role_id)
    .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
    .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
    .where(User.id == bindparam("user_id", type_=User.id.type)),
    PrincipalRow,
)


async def load_principal(
    database: Database, user_id: int, session_id: uuid.UUID, *, claims: AccessClaims | None = None
) -> Principal | None:
    """The user with role and permission names, if the session is live and (for an access
    token, ``claims``) its signing key not retired: one round trip (the hot path), so a
    logout ends its access tokens at once. A refresh token being introspected has no claims."""
    kid = claims.kid if claims is not None and claims.kid else ""
    rows = await database.fetch(
        PRINCIPAL, {"user_id": user_id, "session_id": session_id, "kid": kid}
    )
    if not rows or not rows[0].session_is_live or rows[0].key_is_retired:
        return None
    first = rows[0]
    return Principal(
        id=user_id,
        email=first.email,
        full_name=first.full_name,
        is_active=first.is_active,
        created_at=first.created_at,
        email_verified=first.email_verified,
        mfa_enabled=first.mfa_enabled,
        auth_time=claims.auth_time if claims is not None else None,
        amr=claims.amr if claims is not None else (),
        roles=tuple(sorted({row.role for row in rows if row.role is not None})),
        permissions=frozenset(row.permission for row in rows if row.permission is not None),
        session_id=session_id,
        # A service account's sessions are client credentials grants (it has no password).
        credential="client_credentials" if first.is_service_account else "session",
    )
