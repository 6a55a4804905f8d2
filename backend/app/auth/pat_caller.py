"""The caller of a request made with a personal access token: the token, its user, the user's
roles and permissions, and which of them the token's scopes allow, in one query (the hot
path, like app.auth.caller's PRINCIPAL for access tokens)."""

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, exists, or_, select, update

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.models import (
    Permission,
    PersonalAccessToken,
    Role,
    User,
    personal_access_token_scopes,
    role_permissions,
    user_roles,
)
from app.auth.pat_format import is_well_formed
from app.auth.schemas import Principal
from app.core.clock import utcnow
from app.core.context import ClientContext
from app.core.database import Database
from app.core.fast_read import FastRead
from app.core.security import hash_opaque_token

# last_used_at moves at most once per this period: a token used in a loop writes once a minute.
LAST_USED_PERIOD = timedelta(seconds=60)


class TokenCallerRow(NamedTuple):
    """One row per permission of each role of the token's user (outer joins, as PRINCIPAL)."""

    token_id: int
    user_id: int
    display_prefix: str
    token_created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    email_verified: bool
    role: str | None
    permission: str | None
    in_scope: bool


PERSONAL_ACCESS_TOKEN_CALLER = FastRead(
    "personal_access_token_caller",
    select(
        PersonalAccessToken.id,
        PersonalAccessToken.user_id,
        PersonalAccessToken.display_prefix,
        PersonalAccessToken.created_at,
        PersonalAccessToken.expires_at,
        PersonalAccessToken.revoked_at,
        PersonalAccessToken.last_used_at,
        User.email,
        User.full_name,
        User.is_active,
        User.created_at,
        User.email_verified_at.is_not(None).label("email_verified"),
        Role.name,
        Permission.name,
        exists()
        .where(
            personal_access_token_scopes.c.token_id == PersonalAccessToken.id,
            personal_access_token_scopes.c.permission_id == Permission.id,
        )
        .label("in_scope"),
    )
    .join(User, User.id == PersonalAccessToken.user_id)
    .outerjoin(user_roles, user_roles.c.user_id == User.id)
    .outerjoin(Role, Role.id == user_roles.c.role_id)
    .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
    .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
    .where(
        PersonalAccessToken.token_hash
        == bindparam("token_hash", type_=PersonalAccessToken.token_hash.type)
    ),
    TokenCallerRow,
)

_TOUCH = (
    update(PersonalAccessToken)
    .where(
        PersonalAccessToken.id == bindparam("token_id"),
        or_(
            PersonalAccessToken.last_used_at.is_(None),
            PersonalAccessToken.last_used_at < bindparam("stale_before"),
        ),
    )
    .values(last_used_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


def refusal_of(row: TokenCallerRow, now: datetime) -> str | None:
    """Why a known token cannot be used now, if it cannot."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if not row.is_active:
        return "inactive_user"
    return None


async def read_token(database: Database, token: str) -> list[TokenCallerRow]:
    """The rows of a well-formed token (none for a malformed one: no query is made)."""
    if not is_well_formed(token):
        return []
    return await database.fetch(
        PERSONAL_ACCESS_TOKEN_CALLER, {"token_hash": hash_opaque_token(token)}
    )


def principal_of(rows: list[TokenCallerRow]) -> Principal:
    first = rows[0]
    return Principal(
        id=first.user_id,
        email=first.email,
        full_name=first.full_name,
        is_active=first.is_active,
        created_at=first.created_at,
        email_verified=first.email_verified,
        roles=tuple(sorted({row.role for row in rows if row.role is not None})),
        # What the token may do: its scopes that the user holds now (a role removed today
        # counts at the next request).
        permissions=frozenset(
            row.permission for row in rows if row.permission is not None and row.in_scope
        ),
        credential="personal_access_token",
        token_id=first.token_id,
        token_prefix=first.display_prefix,
    )


async def load_token_caller(
    database: Database, client: ClientContext, token: str
) -> Principal | None:
    """The caller of a personal access token, if it is well formed, known, live and its user
    active; else None (a known token's refusal is audited). ``last_used_at`` is written when
    it is a minute old or more: one conditional UPDATE, of its own, and not on every request."""
    rows = await read_token(database, token)
    if not rows:
        return None
    first = rows[0]
    now = utcnow()
    if reason := refusal_of(first, now):
        await record_refusal(database, client, first.user_id, first.display_prefix, reason)
        return None
    stale_before = now - LAST_USED_PERIOD
    if first.last_used_at is None or first.last_used_at < stale_before:
        async with database.sessionmaker() as session:
            await session.execute(
                _TOUCH, {"token_id": first.token_id, "stale_before": stale_before, "now": now}
            )
            await session.commit()
    return principal_of(rows)


async def record_refusal(
    database: Database,
    client: ClientContext,
    user_id: int,
    token_prefix: str,
    reason: str,
    route: str | None = None,
) -> None:
    """A refused use of a token, in the audit log (one row per token, reason and minute), in a
    transaction of its own so that it survives the refusal."""
    async with database.sessionmaker() as session:
        await audit_log.record_grouped(
            session,
            Event.PERSONAL_ACCESS_TOKEN_REFUSED,
            client,
            group=f"{Event.PERSONAL_ACCESS_TOKEN_REFUSED} {user_id} {token_prefix} {reason} "
            f"{route}",
            actor_id=user_id,
            subject_id=user_id,
            details={
                "token_prefix": token_prefix,
                "reason": reason,
                **({"route": route} if route else {}),
            },
        )
        await session.commit()
