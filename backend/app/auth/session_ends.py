"""Ending sessions: revocation (one, every one, all but the current one), logout and logout
everywhere, RFC 7009 revocation of a token, the list of live sessions, and the purge of dead
ones. Starting sessions and rotating their refresh tokens is app.auth.sessions."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import (
    SessionNotFound,
)
from app.auth.models import AuthSession, RefreshToken, User
from app.auth.pat_format import looks_like_personal_access_token
from app.auth.pats import revoke_presented_token
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.errors import AppError
from app.core.security import AccessTokenCodec, hash_opaque_token


async def revoke_sessions(session: AsyncSession, which: ColumnElement[bool]) -> int:
    """Revoke the chosen sessions and every refresh token of theirs; return how many sessions
    were still live."""
    now = utcnow()
    session_ids = select(AuthSession.id).where(which).scalar_subquery()
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id.in_(session_ids), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    result = await session.execute(
        update(AuthSession).where(which, AuthSession.revoked_at.is_(None)).values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def end_other_sessions(session: AsyncSession, *, user_id: int, keep: uuid.UUID) -> None:
    """End every session of the user but ``keep``, and any that a login in flight is about to
    start: the credentials version moves on, and only the kept session moves with it."""
    new_version = (
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(credentials_version=User.credentials_version + 1)
            .returning(User.credentials_version)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == keep, AuthSession.user_id == user_id)
        .values(credentials_version=new_version)
    )
    await revoke_sessions(session, (AuthSession.user_id == user_id) & (AuthSession.id != keep))


async def revoke_all_sessions(session: AsyncSession, user_id: int) -> None:
    """End every session of the user, and any that a login in flight is about to start."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(credentials_version=User.credentials_version + 1)
        .execution_options(synchronize_session=False)
    )
    await revoke_sessions(session, AuthSession.user_id == user_id)


async def logout(session: AsyncSession, client: ClientContext, *, refresh_token: str) -> None:
    """End the session this refresh token belongs to; an unknown token is a no-op."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
    )
    if token is None or not await revoke_sessions(session, AuthSession.id == token.family_id):
        return  # unknown, or already ended: logging out twice records one logout
    audit_log.record(
        session,
        Event.LOGOUT,
        client,
        actor_id=token.user_id,
        subject_id=token.user_id,
        session_id=str(token.family_id),
    )


async def revoke_token(
    session: AsyncSession, access_tokens: AccessTokenCodec, client: ClientContext, *, token: str
) -> None:
    """RFC 7009 revocation: a refresh token, or an access token (through its session), ends
    its session; a personal access token is revoked. Anything else is ignored."""
    if looks_like_personal_access_token(token):
        await revoke_presented_token(session, client, token)
        return
    token_hash = hash_opaque_token(token)
    if await session.scalar(select(RefreshToken.id).where(RefreshToken.token_hash == token_hash)):
        await logout(session, client, refresh_token=token)
        return
    try:
        claims = access_tokens.decode(token)
    except AppError:
        return
    session_id = claims.session_id
    which = (AuthSession.id == session_id) & (AuthSession.user_id == claims.user_id)
    if await revoke_sessions(session, which):
        audit_log.record(
            session,
            Event.LOGOUT,
            client,
            actor_id=claims.user_id,
            subject_id=claims.user_id,
            session_id=str(session_id),
        )


async def logout_all(session: AsyncSession, client: ClientContext, *, user_id: int) -> None:
    await revoke_all_sessions(session, user_id)
    audit_log.record(session, Event.LOGOUT_ALL, client, actor_id=user_id, subject_id=user_id)


def _is_live(settings: Settings, now: datetime) -> ColumnElement[bool]:
    idle_limit = now - timedelta(days=settings.refresh_idle_days)
    current_version = (
        select(User.credentials_version).where(User.id == AuthSession.user_id).scalar_subquery()
    )
    return (
        AuthSession.revoked_at.is_(None)
        & (AuthSession.expires_at > now)
        & (AuthSession.last_used_at > idle_limit)
        & (AuthSession.credentials_version == current_version)
    )


async def list_sessions(
    session: AsyncSession, settings: Settings, *, user_id: int
) -> list[AuthSession]:
    """The user's live sessions, newest first."""
    result = await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, _is_live(settings, utcnow()))
        .order_by(AuthSession.created_at.desc())
    )
    return list(result)


async def revoke_session(
    session: AsyncSession,
    client: ClientContext,
    *,
    user_id: int,
    session_id: uuid.UUID,
    actor_id: int,
) -> None:
    """Revoke one session of this user; someone else's session is "not found"."""
    owned = await session.scalar(
        select(AuthSession.id).where(AuthSession.id == session_id, AuthSession.user_id == user_id)
    )
    if owned is None:
        raise SessionNotFound()
    await revoke_sessions(session, AuthSession.id == session_id)
    audit_log.record(
        session,
        Event.SESSION_REVOKED,
        client,
        actor_id=actor_id,
        subject_id=user_id,
        session_id=str(session_id),
    )


async def purge_expired_sessions(session: AsyncSession, *, idle_days: int) -> int:
    """Delete sessions that can never be refreshed again (their tokens go with them).

    Revoked sessions are kept for the idle period, so that a stolen token presented soon
    after is still recognised as reuse and recorded.
    """
    now = utcnow()
    idle_limit = now - timedelta(days=idle_days)
    result = await session.execute(
        delete(AuthSession).where(
            or_(
                AuthSession.expires_at <= now,
                AuthSession.last_used_at < idle_limit,
                AuthSession.revoked_at < idle_limit,
            )
        )
    )
    # Orphans cannot exist (ON DELETE CASCADE); this also clears tokens past their own expiry.
    await session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
