"""Accepting an invitation (sent by users.invitations): the invited address opens its account,
with the invitation's roles. It works with REGISTRATION=closed, and the address counts as
verified: the link reached it."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import one_time_tokens as tokens
from app.auth.accounts import add_account
from app.auth.models import Role, User
from app.auth.one_time_tokens import Purpose
from app.auth.passwords import check_password_policy
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.security import PasswordHasher


async def accept_invitation(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    client: ClientContext,
    *,
    token: str,
    password: str,
    full_name: str | None,
) -> User:
    """Open the invited account with the invitation's roles, its address verified."""
    invitation = await tokens.peek(session, Purpose.INVITATION, token)
    check_password_policy(password, invitation.email, settings, field="password")
    invitation = await tokens.use(session, Purpose.INVITATION, token)
    # The roles as they are now: one deleted since the invitation is not granted.
    roles = list(await session.scalars(select(Role).where(Role.name.in_(invitation.roles or []))))
    user = await add_account(
        session,
        hasher,
        settings,
        email=invitation.email,
        password=password,
        full_name=full_name,
        roles=roles,
    )
    user.email_verified_at = utcnow()
    audit_log.record(
        session,
        Event.INVITATION_ACCEPTED,
        client,
        actor_id=user.id,
        subject_id=user.id,
        invited_by=invitation.created_by,
    )
    await session.flush()
    return user
