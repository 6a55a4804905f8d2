"""Sessions and their refresh tokens: a session per login (and a fresh access token after a
reauthentication), rotation on every refresh with reuse detection. Ending sessions, listing them
and the purge are app.auth.session_ends."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, NoReturn, cast

from sqlalchemy import ColumnElement, String, Table, bindparam, exists, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import (
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
)
from app.auth.models import AuthSession, RefreshToken, User
from app.auth.session_ends import revoke_sessions
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.database import Database
from app.core.fast_read import FastRead
from app.core.metrics import REFRESHES
from app.core.orm import UTCDateTime
from app.core.security import AccessTokenCodec, hash_opaque_token, new_opaque_token


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_expires_at: datetime


async def start_session(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    client: ClientContext,
    *,
    user_id: int,
    credentials_version: int,
    amr: Sequence[str] = ("pwd",),
) -> TokenPair:
    """A new session (one login) with its first refresh token, and an access token.

    ``credentials_version`` is the user's as read before the password was checked; ``amr``
    says how the user proved who they are (RFC 8176), now."""
    now = utcnow()
    session_id = uuid.uuid4()
    expires_at = now + timedelta(days=settings.refresh_token_days)
    # One Core INSERT, like rotation's statements: no ORM unit of work for a row nobody reads
    # back (the second step of a sign-in hashes nothing, so this is most of its cost).
    await session.execute(
        _INSERT_AUTH_SESSION,
        {
            "id": session_id,
            "user_id": user_id,
            "credentials_version": credentials_version,
            "auth_time": now,
            "amr": " ".join(amr),
            "created_at": now,
            "last_used_at": now,
            "expires_at": expires_at,
            "ip": client.ip,
            "user_agent": client.user_agent,
        },
    )
    return await _issue_tokens(
        session,
        access_tokens,
        user_id=user_id,
        session_id=session_id,
        session_expires_at=expires_at,
        auth_time=now,
        amr=amr,
    )


# Rotation's statements are Core, built once (no ORM unit of work, no statement rebuilt per
# request): POST /auth/refresh is the busiest write of the service (BENCHMARKS.md).
_refresh_tokens = cast(Table, RefreshToken.__table__)
_auth_sessions = cast(Table, AuthSession.__table__)

# The presented token, if live, is revoked: of several requests presenting it, one wins.
_REVOKE_PRESENTED_TOKEN = (
    update(_refresh_tokens)
    .where(
        _refresh_tokens.c.token_hash == bindparam("presented_hash"),
        _refresh_tokens.c.revoked_at.is_(None),
        _refresh_tokens.c.expires_at > bindparam("now"),
    )
    .values(revoked_at=bindparam("now"))
    .returning(_refresh_tokens.c.family_id)
)


def _touch_live_session(
    session_id: ColumnElement[uuid.UUID],
) -> ReturningUpdate[*tuple[Any, ...]]:
    """The session, if live, not idle too long and its user active, marked used."""
    return (
        update(_auth_sessions)
        .where(
            _auth_sessions.c.id == session_id,
            _auth_sessions.c.revoked_at.is_(None),
            _auth_sessions.c.last_used_at >= bindparam("idle_since"),
            exists().where(
                User.id == _auth_sessions.c.user_id,
                User.is_active.is_(True),
                User.credentials_version == _auth_sessions.c.credentials_version,
            ),
        )
        .values(last_used_at=bindparam("now"))
        .returning(
            _auth_sessions.c.id,
            _auth_sessions.c.user_id,
            _auth_sessions.c.expires_at,
            _auth_sessions.c.auth_time,
            _auth_sessions.c.amr,
        )
    )


class Rotation(NamedTuple):
    """What a rotation did: the presented token's session (None: no live token was presented)
    and, if that session was live, what the next tokens need (user_id None: it was not)."""

    family_id: uuid.UUID | None
    user_id: int | None
    expires_at: datetime | None
    auth_time: datetime | None
    amr: str | None


# On PostgreSQL the three steps are one statement (data-modifying WITH queries): one round trip
# that is atomic on its own, with no BEGIN or COMMIT around it. Its parts see the same snapshot,
# and the UPDATE of the presented token still waits for and re-checks a concurrent one, so of
# several requests presenting it one wins, as with three statements. It cost five round trips
# through the ORM session: half of a refresh (BENCHMARKS.md item 18). SQLite has no such WITH:
# there the steps run in the request's transaction (_rotate_in_session).
_revoked = _REVOKE_PRESENTED_TOKEN.cte("revoked")
_touched = _touch_live_session(_revoked.c.family_id).cte("touched")
_inserted = insert(_refresh_tokens).from_select(
    ["user_id", "token_hash", "family_id", "expires_at", "created_at"],
    select(
        _touched.c.user_id,
        bindparam("next_hash", type_=String),
        _touched.c.id,
        # Rotation never extends a session: every token ends when its session does.
        _touched.c.expires_at,
        bindparam("now", type_=UTCDateTime),
    ),
)
ROTATE_REFRESH_TOKEN = FastRead(
    "rotate_refresh_token",
    select(
        _revoked.c.family_id,
        _touched.c.user_id,
        _touched.c.expires_at,
        _touched.c.auth_time,
        _touched.c.amr,
    )
    .select_from(_revoked.outerjoin(_touched, true()))
    .add_cte(_inserted.cte("inserted")),
    Rotation,
    writes=True,
)
_TOUCH_LIVE_SESSION = _touch_live_session(bindparam("session_id"))
_INSERT_REFRESH_TOKEN = insert(_refresh_tokens)
_INSERT_AUTH_SESSION = insert(_auth_sessions)


async def _issue_tokens(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    *,
    user_id: int,
    session_id: uuid.UUID,
    session_expires_at: datetime,
    auth_time: datetime,
    amr: Sequence[str],
) -> TokenPair:
    refresh_token = new_opaque_token()
    await session.execute(
        _INSERT_REFRESH_TOKEN,
        {
            "user_id": user_id,
            "token_hash": hash_opaque_token(refresh_token),
            "family_id": session_id,
            # Rotation never extends a session: every token ends when its session does.
            "expires_at": session_expires_at,
        },
    )
    return _token_pair(
        access_tokens,
        refresh_token,
        user_id=user_id,
        session_id=session_id,
        session_expires_at=session_expires_at,
        auth_time=auth_time,
        amr=amr,
    )


def _token_pair(
    access_tokens: AccessTokenCodec,
    refresh_token: str,
    *,
    user_id: int,
    session_id: uuid.UUID,
    session_expires_at: datetime,
    auth_time: datetime,
    amr: Sequence[str],
) -> TokenPair:
    """The pair handed to the client: a new access token for the session, and its refresh
    token (already stored, as its hash)."""
    return TokenPair(
        access_token=access_tokens.issue(
            user_id, session_id=session_id, auth_time=auth_time, amr=amr
        ),
        refresh_token=refresh_token,
        expires_in=int(access_tokens.lifetime.total_seconds()),
        session_expires_at=session_expires_at,
    )


async def rotate_refresh_token(
    session: AsyncSession,
    database: Database,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    client: ClientContext,
    *,
    refresh_token: str,
) -> TokenPair:
    """Trade a refresh token for a new pair; the presented token is revoked.

    Revoking is one conditional UPDATE, so of several requests presenting the same token
    exactly one wins. Presenting a token that was already rotated or revoked means it was
    copied: the whole family (the session) is revoked, the thief's and the owner's tokens alike.
    """
    now = utcnow()
    idle_since = now - timedelta(days=settings.refresh_idle_days)
    token_hash = hash_opaque_token(refresh_token)
    next_token = new_opaque_token()
    parameters = {
        "presented_hash": token_hash,
        "next_hash": hash_opaque_token(next_token),
        "now": now,
        "idle_since": idle_since,
    }
    if database.fetches_writes:
        rows = await database.fetch(ROTATE_REFRESH_TOKEN, parameters)
        rotation = rows[0] if rows else _NOTHING_ROTATED
    else:
        rotation = await _rotate_in_session(session, parameters)
    if rotation.family_id is None:
        await _explain_rejected_refresh(session, client, token_hash)
    if rotation.user_id is None:
        await _explain_dead_session(session, rotation.family_id, idle_since)
    assert rotation.expires_at is not None  # a touched session has them all
    assert rotation.auth_time is not None
    REFRESHES.labels("rotated").inc()
    return _token_pair(
        access_tokens,
        next_token,
        user_id=rotation.user_id,
        session_id=rotation.family_id,
        session_expires_at=rotation.expires_at,
        # A refresh is no new proof of identity: the session's auth_time and amr carry over.
        auth_time=rotation.auth_time,
        amr=(rotation.amr or "").split(),
    )


_NOTHING_ROTATED = Rotation(None, None, None, None, None)


async def _rotate_in_session(session: AsyncSession, parameters: dict[str, Any]) -> Rotation:
    """The rotation's three steps as three statements of the request's transaction (SQLite)."""
    revoked = (await session.execute(_REVOKE_PRESENTED_TOKEN, parameters)).first()
    if revoked is None:
        return _NOTHING_ROTATED
    touched = (
        await session.execute(_TOUCH_LIVE_SESSION, {**parameters, "session_id": revoked.family_id})
    ).first()
    if touched is None:
        return Rotation(revoked.family_id, None, None, None, None)
    await session.execute(
        _INSERT_REFRESH_TOKEN,
        {
            "user_id": touched.user_id,
            "token_hash": parameters["next_hash"],
            "family_id": revoked.family_id,
            "expires_at": touched.expires_at,
            "created_at": parameters["now"],
        },
    )
    return Rotation(
        revoked.family_id, touched.user_id, touched.expires_at, touched.auth_time, touched.amr
    )


async def _explain_dead_session(
    session: AsyncSession, session_id: uuid.UUID, idle_since: datetime
) -> NoReturn:
    """Why a live token's session refused to be used (the rare path: it may be slow)."""
    row = (
        await session.execute(
            select(
                AuthSession.revoked_at,
                AuthSession.last_used_at,
                User.is_active,
                (AuthSession.credentials_version == User.credentials_version).label("current"),
            )
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == session_id)
        )
    ).one()
    is_live = row.revoked_at is None and row.is_active and row.current
    if is_live and row.last_used_at < idle_since:
        REFRESHES.labels("expired").inc()
        raise RefreshTokenExpired("The session was idle too long; log in again.")
    REFRESHES.labels("revoked").inc()
    raise RefreshTokenRevoked()


async def _explain_rejected_refresh(
    session: AsyncSession, client: ClientContext, token_hash: str
) -> NoReturn:
    token = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if token is None:
        REFRESHES.labels("invalid").inc()
        raise RefreshTokenInvalid()
    if token.revoked_at is not None:
        session_revoked_at = await session.scalar(
            select(AuthSession.revoked_at).where(AuthSession.id == token.family_id)
        )
        if session_revoked_at is not None:
            # The session had already ended (logout, password change, admin): a dead token,
            # not a stolen one.
            REFRESHES.labels("revoked").inc()
            raise RefreshTokenRevoked()
        await revoke_sessions(session, AuthSession.id == token.family_id)
        REFRESHES.labels("reused").inc()
        audit_log.record(
            session,
            Event.REFRESH_TOKEN_REUSED,
            client,
            subject_id=token.user_id,
            session_id=str(token.family_id),
            family_revoked=True,
        )
        raise RefreshTokenReused()
    REFRESHES.labels("expired").inc()
    raise RefreshTokenExpired()


async def reauthenticated(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    *,
    user_id: int,
    session_id: uuid.UUID,
    amr: Sequence[str],
) -> str:
    """The user proved who they are again in this session: it records when and how, and a
    fresh access token says so (its refresh token is unchanged)."""
    now = utcnow()
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id)
        .values(auth_time=now, amr=" ".join(amr))
    )
    return access_tokens.issue(user_id, session_id=session_id, auth_time=now, amr=amr)
