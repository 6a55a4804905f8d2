"""Changing one's email address: proven by a link sent to the new address, told to the old.

Until the link is used, the account keeps its address (login included). A taken address gets
the same 202 and no mail, so the endpoint tells nobody which addresses have accounts.
"""

import uuid

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import one_time_tokens as tokens
from app.auth.exceptions import EmailAlreadyRegistered, OneTimeTokenInvalid, WrongCurrentPassword
from app.auth.models import AuthSession, User
from app.auth.one_time_tokens import Purpose
from app.auth.postbox import Postbox
from app.auth.session_ends import revoke_sessions
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.errors import RequestInvalid
from app.core.security import PasswordHasher


async def request_email_change(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    user_id: int,
    new_email: str,
    password: str,
) -> None:
    """Mail a confirmation link to the new address and a notice to the current one."""
    user = await session.get_one(User, user_id)
    is_valid, _ = await hasher.verify_and_update(password, user.hashed_password)
    if not is_valid:
        raise WrongCurrentPassword()
    if new_email == user.email:
        raise RequestInvalid.at(
            ["body", "new_email"], "This is already your address.", "same_email"
        )
    taken = await session.scalar(select(exists().where(User.email == new_email)))
    if taken or not await tokens.may_mail(session, Purpose.EMAIL_CHANGE, new_email):
        return
    token = await tokens.issue(
        session, settings, Purpose.EMAIL_CHANGE, email=new_email, user_id=user.id
    )
    audit_log.record(
        session, Event.EMAIL_CHANGE_REQUESTED, client, actor_id=user.id, subject_id=user.id
    )
    postbox.send("email_change_confirm", new_email, link=postbox.link("confirm-email", token))
    postbox.send("email_change_notice", user.email, new_email=new_email)


async def confirm_email_change(
    session: AsyncSession,
    client: ClientContext,
    *,
    user_id: int,
    current_session_id: uuid.UUID,
    token: str,
) -> User:
    """Switch the address (verified, since the link reached it) and end the user's other
    sessions. Only the account that asked can use its link."""
    used = await tokens.use(session, Purpose.EMAIL_CHANGE, token)
    if used.user_id != user_id:
        raise OneTimeTokenInvalid()
    user = await session.get_one(User, user_id, options=[selectinload(User.roles)])
    user.email = used.email
    user.email_verified_at = utcnow()
    try:
        await session.flush()
    except IntegrityError:
        # Someone registered the address since the link was sent.
        raise EmailAlreadyRegistered() from None
    await revoke_sessions(
        session, (AuthSession.user_id == user_id) & (AuthSession.id != current_session_id)
    )
    audit_log.record(session, Event.EMAIL_CHANGED, client, actor_id=user_id, subject_id=user_id)
    return user
