"""Logging in: the credentials checked uniformly (unknown email, wrong password and inactive
account look alike), every attempt counted first, and a session started."""

from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import mfa, second_step
from app.auth.exceptions import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidSecondFactor,
    LoginThrottled,
    MfaRequired,
    WrongCurrentPassword,
)
from app.auth.models import TotpCredential, User
from app.auth.schemas import Principal
from app.auth.sessions import TokenPair, reauthenticated, start_session
from app.auth.throttling import forget_login_failures, start_lockout, take_login_attempt
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.database import Database
from app.core.fast_read import FastRead
from app.core.metrics import LOGINS
from app.core.sealing import Sealer
from app.core.security import AccessTokenCodec, PasswordHasher
from app.core.types import normalize_email


class LoginAccount(NamedTuple):
    id: int
    hashed_password: str
    is_active: bool
    credentials_version: int
    email_verified: bool
    mfa_enabled: bool


# Read outside any transaction: no connection is held (and on SQLite no lock) while the
# password is hashed, which takes a core for a tenth of a second.
LOGIN_ACCOUNT = FastRead(
    "login_account",
    select(
        User.id,
        User.hashed_password,
        User.is_active,
        User.credentials_version,
        User.email_verified_at.is_not(None),
        TotpCredential.confirmed_at.is_not(None),
    )
    .outerjoin(TotpCredential, TotpCredential.user_id == User.id)
    .where(User.email == bindparam("email", type_=User.email.type)),
    LoginAccount,
)


async def login(
    session: AsyncSession,
    database: Database,
    hasher: PasswordHasher,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    client: ClientContext,
    *,
    email: str,
    password: str,
) -> TokenPair:
    """Check the credentials and start a session (or, for an account with a second factor,
    a challenge for it: MfaRequired).

    Unknown email, wrong password and inactive account look the same from outside, in status,
    body and time (an unknown email is verified against a dummy hash), and all count toward
    the email's lockout. Each attempt is counted before its password is checked, so however
    many arrive at once, at most LOGIN_MAX_FAILURES passwords are checked in a window; during
    a lockout none is.
    """
    email = normalize_email(email)
    attempt = await take_login_attempt(database, settings, email, utcnow())
    if attempt.retry_after is not None:
        await _failed_login(session, client, "throttled", email=email)
        raise LoginThrottled(attempt.retry_after)

    # Read before the password is checked: a change of credentials that commits while it is
    # checked leaves this login holding a version that no longer matches.
    found = await database.fetch(LOGIN_ACCOUNT, {"email": email})
    user = found[0] if found else None
    new_hash: str | None = None
    if user is None:
        await hasher.verify_dummy(password)
        reason = "unknown_email"
    else:
        is_valid, new_hash = await hasher.verify_and_update(password, user.hashed_password)
        reason = "bad_password" if not is_valid else "inactive" if not user.is_active else ""
    if user is None or reason:
        if attempt.number >= settings.login_max_failures:
            await start_lockout(session, settings, email, utcnow(), attempt)
        await _failed_login(session, client, reason, email=email, user_id=user.id if user else None)
        raise InvalidCredentials()

    if settings.email_verification == "required" and not user.email_verified:
        # The right password: the attempt is not a failure, but no session before the
        # address is proven.
        await forget_login_failures(session, email)
        await _failed_login(session, client, "email_not_verified", email=email, user_id=user.id)
        raise EmailNotVerified()

    if new_hash is not None:
        # The stored hash used outdated parameters: upgrade it while we know the password,
        # unless the password changed meanwhile (then the new one's hash stays).
        await session.execute(
            update(User)
            .where(User.id == user.id, User.hashed_password == user.hashed_password)
            .values(hashed_password=new_hash)
            .execution_options(synchronize_session=False)
        )
    if user.mfa_enabled:
        # No session on the password alone. The attempt stays counted until the second step
        # succeeds: else each new login would wipe the count its wrong codes built up.
        LOGINS.labels("mfa_required").inc()
        mfa_token = await second_step.start_challenge(
            session, user_id=user.id, credentials_version=user.credentials_version
        )
        raise MfaRequired(error="mfa_required", mfa_token=mfa_token, methods=list(mfa.METHODS))
    await forget_login_failures(session, email)
    pair = await start_session(
        session,
        access_tokens,
        settings,
        client,
        user_id=user.id,
        credentials_version=user.credentials_version,
    )
    LOGINS.labels("success").inc()
    audit_log.record(session, Event.LOGIN_SUCCEEDED, client, actor_id=user.id, subject_id=user.id)
    return pair


async def _failed_login(
    session: AsyncSession,
    client: ClientContext,
    reason: str,
    *,
    email: str,
    user_id: int | None = None,
) -> None:
    LOGINS.labels(reason).inc()
    if user_id is None and reason == "throttled":
        user_id = await session.scalar(select(User.id).where(User.email == email))
    # What was typed is kept only when it names an account: a password typed into the email
    # field (it may well look like an address) must not land in the audit log.
    audit_log.record(
        session,
        Event.LOGIN_FAILED,
        client,
        subject_id=user_id,
        reason=reason,
        email=email if user_id is not None else None,
    )


async def reauthenticate(
    session: AsyncSession,
    database: Database,
    hasher: PasswordHasher,
    sealer: Sealer,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    client: ClientContext,
    *,
    caller: Principal,
    password: str,
    factor: mfa.SecondFactor | None,
) -> str:
    """The caller proves who they are again (RFC 9470 step-up): the password, and a second
    factor if the account has one. Counted like a login attempt of the account; success gives
    a fresh access token in the same session, whose auth_time is now."""
    assert caller.session_id is not None  # a bearer caller always has a session
    attempt = await take_login_attempt(database, settings, caller.email, utcnow())
    if attempt.retry_after is not None:
        await _failed_login(session, client, "throttled", email=caller.email, user_id=caller.id)
        raise LoginThrottled(attempt.retry_after)
    # Read outside the request's transaction, like a login: no lock is held while hashing.
    found = await database.fetch(LOGIN_ACCOUNT, {"email": caller.email})
    is_valid = (
        bool(found) and (await hasher.verify_and_update(password, found[0].hashed_password))[0]
    )
    methods = ["pwd"]
    try:
        if not is_valid:
            raise WrongCurrentPassword("The password is not correct.")
        if caller.mfa_enabled:
            if factor is None:
                raise MfaRequired(
                    "This account has two-step verification: send a code too.",
                    error="mfa_required",
                    methods=list(mfa.METHODS),
                )
            methods.append(
                await mfa.check_second_factor(
                    session, sealer, settings, user_id=caller.id, factor=factor
                )
            )
    except (WrongCurrentPassword, InvalidSecondFactor) as failure:
        if attempt.number >= settings.login_max_failures:
            await start_lockout(session, settings, caller.email, utcnow(), attempt)
        reason = (
            "bad_password" if isinstance(failure, WrongCurrentPassword) else "bad_second_factor"
        )
        await _failed_login(session, client, reason, email=caller.email, user_id=caller.id)
        raise
    await forget_login_failures(session, caller.email)
    token = await reauthenticated(
        session, access_tokens, user_id=caller.id, session_id=caller.session_id, amr=methods
    )
    audit_log.record(
        session,
        Event.REAUTHENTICATED,
        client,
        actor_id=caller.id,
        subject_id=caller.id,
        amr=methods,
    )
    return token
