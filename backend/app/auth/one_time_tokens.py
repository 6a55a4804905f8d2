"""Tokens sent by mail, each for one purpose and used at most once.

The pattern of refresh tokens: 256 random bits shown once (in the mail), only their SHA-256
stored, and use by one conditional UPDATE, so that of any number of requests presenting a
token exactly one succeeds. Issuing a token ends the unused ones of the same purpose and
address; a token of one purpose is refused by every other; bad, used and expired tokens get
one answer.
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import OneTimeTokenInvalid
from app.auth.models import OneTimeToken
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.security import hash_opaque_token, new_opaque_token

# At most this many mails per address and purpose in the window; more are dropped silently.
MAILS_PER_WINDOW = 3
MAIL_WINDOW = timedelta(minutes=15)


class Purpose(StrEnum):
    RESET = "reset"
    VERIFY = "verify"
    EMAIL_CHANGE = "email_change"
    INVITATION = "invitation"


def lifetime(purpose: Purpose, settings: Settings) -> timedelta:
    seconds = {
        Purpose.RESET: settings.reset_token_ttl_seconds,
        Purpose.VERIFY: settings.verify_token_ttl_seconds,
        Purpose.EMAIL_CHANGE: settings.verify_token_ttl_seconds,
        Purpose.INVITATION: settings.invite_token_ttl_seconds,
    }[purpose]
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class UsedToken:
    user_id: int | None
    email: str
    roles: list[str] | None
    created_by: int | None


async def may_mail(session: AsyncSession, purpose: Purpose, email: str) -> bool:
    """Whether another mail of this purpose may go to this address now (a mailbox is not to
    be flooded through py-auth, whoever asks)."""
    sent = await session.scalar(
        select(func.count())
        .select_from(OneTimeToken)
        .where(
            OneTimeToken.email == email,
            OneTimeToken.purpose == purpose,
            OneTimeToken.created_at > utcnow() - MAIL_WINDOW,
        )
    )
    return (sent or 0) < MAILS_PER_WINDOW


async def issue(
    session: AsyncSession,
    settings: Settings,
    purpose: Purpose,
    *,
    email: str,
    user_id: int | None = None,
    roles: list[str] | None = None,
    created_by: int | None = None,
) -> str:
    """A new token of this purpose for this address (and user), returned once: the older
    unused ones of the same purpose and address stop working."""
    now = utcnow()
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.purpose == purpose,
            OneTimeToken.email == email,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = new_opaque_token()
    session.add(
        OneTimeToken(
            purpose=purpose,
            token_hash=hash_opaque_token(token),
            user_id=user_id,
            email=email,
            roles=roles,
            created_by=created_by,
            created_at=now,
            expires_at=now + lifetime(purpose, settings),
        )
    )
    await session.flush()
    return token


async def peek(session: AsyncSession, purpose: Purpose, token: str) -> UsedToken:
    """What a live token is for, without using it (to check a new password against the
    policy before the token is spent); else 400 invalid_token."""
    row = await session.scalar(_live(purpose, token))
    if row is None:
        raise OneTimeTokenInvalid()
    return UsedToken(row.user_id, row.email, row.roles, row.created_by)


async def use(session: AsyncSession, purpose: Purpose, token: str) -> UsedToken:
    """Spend a token: one conditional UPDATE, so that of several requests presenting it
    exactly one gets past here; else 400 invalid_token. Spent in the request's transaction: a
    request that fails later gives the token back."""
    now = utcnow()
    row = (
        await session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == hash_opaque_token(token),
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(
                OneTimeToken.user_id,
                OneTimeToken.email,
                OneTimeToken.roles,
                OneTimeToken.created_by,
            )
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        raise OneTimeTokenInvalid()
    return UsedToken(row.user_id, row.email, row.roles, row.created_by)


def _live(purpose: Purpose, token: str) -> Select[OneTimeToken]:
    return select(OneTimeToken).where(
        OneTimeToken.token_hash == hash_opaque_token(token),
        OneTimeToken.purpose == purpose,
        OneTimeToken.used_at.is_(None),
        OneTimeToken.expires_at > utcnow(),
    )


async def purge(session: AsyncSession) -> int:
    """Delete tokens that can no longer be used and no longer count toward the mail limit."""
    cutoff = utcnow() - MAIL_WINDOW
    result = await session.execute(
        delete(OneTimeToken).where(
            OneTimeToken.created_at < cutoff,
            or_(OneTimeToken.used_at.is_not(None), OneTimeToken.expires_at <= utcnow()),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
