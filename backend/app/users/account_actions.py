"""What an administrator does to someone else's account, each refused (403, audited) when the
user holds a permission the administrator lacks (service.guard_target): end their sessions,
reset their second factor, lift their login lockout, mail them a reset link, list and revoke
their personal access tokens."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import mfa
from app.auth import one_time_tokens as tokens
from app.auth import pats as personal_tokens
from app.auth.models import PersonalAccessToken
from app.auth.one_time_tokens import Purpose
from app.auth.postbox import Postbox
from app.auth.recovery import send_reset
from app.auth.schemas import Principal
from app.auth.session_ends import revoke_all_sessions
from app.auth.throttling import forget_login_failures
from app.core.config import Settings
from app.core.context import ClientContext
from app.users.service import get_user, guard_target


async def end_sessions(
    session: AsyncSession, client: ClientContext, user_id: int, *, actor: Principal
) -> None:
    """End every session of the user: their refresh tokens and access tokens stop working."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="end_sessions")
    await revoke_all_sessions(session, user.id)
    audit_log.record(
        session, Event.SESSION_REVOKED, client, actor_id=actor.id, subject_id=user.id, all=True
    )


async def reset_mfa(
    session: AsyncSession,
    postbox: Postbox,
    client: ClientContext,
    user_id: int,
    *,
    actor: Principal,
    reason: str,
) -> None:
    """Turn the user's second factor off (a lost device); only an actor who holds at least
    the permissions the user holds may."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="reset_mfa")
    await mfa.reset(session, postbox, client, target=user, actor_id=actor.id, reason=reason)


async def unlock(
    session: AsyncSession, client: ClientContext, user_id: int, *, actor: Principal
) -> None:
    """Lift the login lockout of the user's email (and forget its failed attempts)."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="unlock")
    await forget_login_failures(session, user.email)
    audit_log.record(session, Event.LOCKOUT_LIFTED, client, actor_id=actor.id, subject_id=user.id)


async def send_password_reset(
    session: AsyncSession,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    user_id: int,
    *,
    actor: Principal,
) -> None:
    """An administrator mails a user a reset link (for a user who cannot reach the forgot
    page, say). The link goes to the user's own address, never to the administrator."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="password_reset")
    token = await tokens.issue(session, settings, Purpose.RESET, email=user.email, user_id=user.id)
    audit_log.record(
        session, Event.PASSWORD_RESET_SENT, client, actor_id=actor.id, subject_id=user.id
    )
    send_reset(postbox, settings, user.email, token)


async def tokens_of(session: AsyncSession, user_id: int) -> list[PersonalAccessToken]:
    """The live personal access tokens of a user (404 for no such user)."""
    user = await get_user(session, user_id)
    return await personal_tokens.list_tokens(session, user_id=user.id)


async def revoke_token_of(
    session: AsyncSession, client: ClientContext, user_id: int, token_id: int, *, actor: Principal
) -> None:
    """An administrator revokes a user's personal access token (of a user who holds no
    permission the administrator lacks)."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="revoke_token")
    await personal_tokens.revoke_token(
        session, client, user_id=user.id, token_id=token_id, actor_id=actor.id
    )
