"""The second step of a sign-in: after the right password of an account with a second factor,
a challenge (the opaque ``mfa_token``) that a code completes, counted as a login attempt of the
account; and the same proof where a password reset asks for it. The factors themselves are
app.auth.mfa.
"""

from datetime import timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import (
    InvalidMfaChallenge,
    InvalidSecondFactor,
    LoginThrottled,
    MfaRequired,
)
from app.auth.mfa import METHODS, SecondFactor, check_second_factor, is_enabled
from app.auth.models import MfaChallenge, User
from app.auth.sessions import TokenPair, start_session
from app.auth.throttling import count_login_attempt, forget_login_failures, start_lockout
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.sealing import Sealer
from app.core.security import AccessTokenCodec, hash_opaque_token, new_opaque_token

CHALLENGE_LIFETIME = timedelta(minutes=5)
CHALLENGE_MAX_ATTEMPTS = 5


async def start_challenge(session: AsyncSession, *, user_id: int, credentials_version: int) -> str:
    """A login whose password was right waits for its second factor: the opaque token that
    names it (stored as its SHA-256), good for CHALLENGE_LIFETIME and CHALLENGE_MAX_ATTEMPTS."""
    token = new_opaque_token()
    now = utcnow()
    session.add(
        MfaChallenge(
            token_hash=hash_opaque_token(token),
            user_id=user_id,
            credentials_version=credentials_version,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    await session.flush()
    return token


# The statements of a second step, built once with their values as parameters, like refresh's
# (BENCHMARKS.md: built per request, they cost more than the rest of the request).
_challenges = cast(Table, MfaChallenge.__table__)
_TAKE_CHALLENGE_ATTEMPT = (
    update(_challenges)
    .where(
        _challenges.c.token_hash == bindparam("presented_hash"),
        _challenges.c.used_at.is_(None),
        _challenges.c.expires_at > bindparam("now", type_=_challenges.c.expires_at.type),
        _challenges.c.attempts < CHALLENGE_MAX_ATTEMPTS,
    )
    .values(attempts=_challenges.c.attempts + 1)
    .returning(_challenges.c.id, _challenges.c.user_id, _challenges.c.credentials_version)
)
_SPEND_CHALLENGE = (
    update(_challenges)
    .where(_challenges.c.id == bindparam("challenge_id"))
    .values(used_at=bindparam("now", type_=_challenges.c.used_at.type))
)
_EMAIL_OF_USER = select(User.email).where(User.id == bindparam("user_id"))


async def complete_challenge(
    session: AsyncSession,
    sealer: Sealer,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    client: ClientContext,
    *,
    mfa_token: str,
    factor: SecondFactor,
) -> TokenPair:
    """The second step of a login: the challenge's attempt is taken first (one conditional
    UPDATE), then the factor is checked as a login attempt of the account
    (prove_second_factor); the right one starts the session the password alone did not."""
    now = utcnow()
    challenge = (
        await session.execute(
            _TAKE_CHALLENGE_ATTEMPT, {"presented_hash": hash_opaque_token(mfa_token), "now": now}
        )
    ).first()
    if challenge is None:
        raise InvalidMfaChallenge()
    email = await session.scalar(_EMAIL_OF_USER, {"user_id": challenge.user_id})
    if email is None:
        raise InvalidMfaChallenge()
    method = await prove_second_factor(
        session,
        sealer,
        settings,
        client,
        user_id=challenge.user_id,
        email=email,
        factor=factor,
    )
    await session.execute(_SPEND_CHALLENGE, {"challenge_id": challenge.id, "now": now})
    pair = await start_session(
        session,
        access_tokens,
        settings,
        client,
        user_id=challenge.user_id,
        credentials_version=challenge.credentials_version,
        amr=("pwd", method),
    )
    audit_log.record(
        session,
        Event.LOGIN_SUCCEEDED,
        client,
        actor_id=challenge.user_id,
        subject_id=challenge.user_id,
        amr=["pwd", method],
    )
    return pair


async def prove_second_factor(
    session: AsyncSession,
    sealer: Sealer,
    settings: Settings,
    client: ClientContext,
    *,
    user_id: int,
    email: str,
    factor: SecondFactor,
) -> str:
    """Check the factor as a login attempt of the account: counted first (429 during a
    lockout), a failure audited and able to start a lockout, success forgetting the failures.
    Returns the RFC 8176 method, as check_second_factor."""
    attempt = await count_login_attempt(session, settings, email, utcnow())
    if attempt.retry_after is not None:
        _record_failure(session, client, "throttled", user_id=user_id, email=email)
        raise LoginThrottled(attempt.retry_after)
    try:
        method = await check_second_factor(
            session, sealer, settings, user_id=user_id, factor=factor
        )
    except InvalidSecondFactor:
        if attempt.number >= settings.login_max_failures:
            await start_lockout(session, settings, email, utcnow(), attempt)
        _record_failure(session, client, "bad_second_factor", user_id=user_id, email=email)
        raise
    await forget_login_failures(session, email)
    return method


def _record_failure(
    session: AsyncSession, client: ClientContext, reason: str, *, user_id: int, email: str
) -> None:
    audit_log.record(
        session, Event.LOGIN_FAILED, client, subject_id=user_id, reason=reason, email=email
    )


async def purge_expired_challenges(session: AsyncSession) -> int:
    result = await session.execute(delete(MfaChallenge).where(MfaChallenge.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def require_for_reset(
    session: AsyncSession,
    sealer: Sealer,
    settings: Settings,
    client: ClientContext,
    *,
    user: User,
    factor: SecondFactor,
) -> None:
    """A password reset of an account with a second factor needs that factor too: the mailbox
    alone must not take over the account."""
    if not await is_enabled(session, user.id):
        return
    if factor.code is None and factor.recovery_code is None:
        raise MfaRequired(
            "This account has two-step verification: send a code with the new password.",
            error="mfa_required",
            methods=list(METHODS),
        )
    await prove_second_factor(
        session,
        sealer,
        settings,
        client,
        user_id=user.id,
        email=user.email,
        factor=factor,
    )
