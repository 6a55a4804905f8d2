"""Account recovery and proof of address: forgot and reset password, email verification.

Every answer to "is there an account at this address?" is the same: requests for a reset or a
verification are accepted (202) whatever the address, cost the same work (a token is issued
either way; one for an unknown address reaches nobody), and mail only the owner.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import mfa, second_step
from app.auth import one_time_tokens as tokens
from app.auth.exceptions import OneTimeTokenInvalid
from app.auth.models import User
from app.auth.one_time_tokens import Purpose
from app.auth.passwords import check_password_policy
from app.auth.pats import revoke_all_tokens
from app.auth.postbox import Postbox
from app.auth.session_ends import revoke_all_sessions
from app.auth.throttling import forget_login_failures
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.sealing import Sealer
from app.core.security import PasswordHasher


async def forgot_password(
    session: AsyncSession,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    email: str,
) -> None:
    """Mail a reset link to the owner of this address, if it has an active account."""
    if not await tokens.may_mail(session, Purpose.RESET, email):
        return  # silently: the same 202 as always
    user = await session.scalar(select(User).where(User.email == email))
    # A service account has no password to reset (and no mailbox).
    owner = user if user is not None and user.is_active and not user.is_service_account else None
    token = await tokens.issue(
        session, settings, Purpose.RESET, email=email, user_id=owner.id if owner else None
    )
    # Recorded for an unknown address too (without it: what was typed may be anything), so
    # that both cost the same writes.
    audit_log.record(
        session, Event.PASSWORD_RESET_REQUESTED, client, subject_id=owner.id if owner else None
    )
    send_reset(postbox, settings, email, token, deliver=owner is not None)


def send_reset(
    postbox: Postbox, settings: Settings, email: str, token: str, *, deliver: bool = True
) -> None:
    """The reset mail; with ``deliver=False`` its work is done and the mail dropped (an
    address without an account costs what one with an account does)."""
    (postbox.send if deliver else postbox.rehearse)(
        "reset_password",
        email,
        link=postbox.link("reset-password", token),
        minutes=str(settings.reset_token_ttl_seconds // 60),
    )


async def reset_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    sealer: Sealer,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    token: str,
    password: str,
    factor: mfa.SecondFactor,
) -> None:
    """Set a new password with a reset token: every session of the user ends, the lockout is
    lifted, the address counts as verified (the mail reached its owner), and the owner is told.
    It does not log in. An account with a second factor needs it too (a counted attempt)."""
    sent = await tokens.peek(session, Purpose.RESET, token)
    user = await session.get(User, sent.user_id) if sent.user_id is not None else None
    if user is None or not user.is_active or user.is_service_account or user.email != sent.email:
        # An unknown address's token, or one sent to an address the account no longer has.
        raise OneTimeTokenInvalid()
    # Checked before the token is spent, so that a refused password does not cost the link.
    check_password_policy(password, user.email, settings, field="password")
    await second_step.require_for_reset(session, sealer, settings, client, user=user, factor=factor)
    await tokens.use(session, Purpose.RESET, token)
    user.hashed_password = await hasher.hash(password)
    user.email_verified_at = user.email_verified_at or utcnow()
    await revoke_all_sessions(session, user.id)
    await revoke_all_tokens(
        session, client, user_id=user.id, actor_id=user.id, reason="password_reset"
    )
    await forget_login_failures(session, user.email)
    audit_log.record(session, Event.PASSWORD_RESET, client, actor_id=user.id, subject_id=user.id)
    postbox.send("password_changed", user.email)
    await session.flush()


async def send_verification(
    session: AsyncSession, settings: Settings, postbox: Postbox, client: ClientContext, user: User
) -> None:
    """Mail this user a link that proves they read mail at their address."""
    if not await tokens.may_mail(session, Purpose.VERIFY, user.email):
        return
    token = await tokens.issue(session, settings, Purpose.VERIFY, email=user.email, user_id=user.id)
    audit_log.record(
        session, Event.EMAIL_VERIFICATION_SENT, client, actor_id=user.id, subject_id=user.id
    )
    postbox.send("verify_email", user.email, link=postbox.link("verify-email", token))


async def request_verification(
    session: AsyncSession,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    email: str,
) -> None:
    """Mail a new verification link, if this address has an active, unverified account."""
    user = await session.scalar(select(User).where(User.email == email))
    if user is not None and user.is_active and user.email_verified_at is None:
        await send_verification(session, settings, postbox, client, user)


async def verify_email(session: AsyncSession, client: ClientContext, *, token: str) -> User:
    """Mark the address verified. A link sent to an address the account has since left
    proves nothing about the new one, and is refused."""
    used = await tokens.use(session, Purpose.VERIFY, token)
    user = (
        await session.get(User, used.user_id, options=[selectinload(User.roles)])
        if used.user_id is not None
        else None
    )
    if user is None or user.email != used.email:
        raise OneTimeTokenInvalid()
    user.email_verified_at = user.email_verified_at or utcnow()
    audit_log.record(session, Event.EMAIL_VERIFIED, client, actor_id=user.id, subject_id=user.id)
    await session.flush()
    return user
