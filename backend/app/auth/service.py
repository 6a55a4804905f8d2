"""Authentication logic: registration, login and its throttling, sessions and their refresh
tokens (issue, rotation, revocation), password changes.

Functions take a session and typed arguments, raise domain errors, and only flush: the
request's session dependency commits. Each security event is recorded in the audit log in the
same transaction as the change it describes.
"""

import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple, NoReturn, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    LoginThrottled,
    PasswordRejected,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
    RegistrationClosed,
    SessionNotFound,
    WrongCurrentPassword,
)
from app.auth.models import (
    AuthSession,
    LoginThrottle,
    Permission,
    RefreshToken,
    Role,
    User,
    role_permissions,
    user_roles,
)
from app.auth.passwords import password_problem
from app.auth.schemas import Principal
from app.core.clock import utcnow
from app.core.config import Settings, SettingsError
from app.core.context import ClientContext
from app.core.database import Database, dialect_insert
from app.core.errors import AppError
from app.core.fast_read import FastRead
from app.core.metrics import LOCKOUTS, LOGINS, REFRESHES
from app.core.security import AccessTokenCodec, PasswordHasher, hash_opaque_token, new_opaque_token
from app.core.types import normalize_email


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_expires_at: datetime


# --- The caller ---------------------------------------------------------------------------


class PrincipalRow(NamedTuple):
    """One row per permission of each role of the user (outer joins: a user without roles, or
    a role without permissions, still gives a row, with None there)."""

    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    role: str | None
    permission: str | None
    session_is_live: bool


# The hot path: the user, their roles and permissions, and whether the token's session is
# still live (not revoked, and started under the user's current credentials), in one query.
PRINCIPAL = FastRead(
    "principal",
    select(
        User.email,
        User.full_name,
        User.is_active,
        User.created_at,
        Role.name,
        Permission.name,
        exists()
        .where(
            AuthSession.id == bindparam("session_id", type_=AuthSession.id.type),
            AuthSession.user_id == User.id,
            AuthSession.revoked_at.is_(None),
            # A login that checked the password before a change of credentials committed
            # holds the old version: its session was never live.
            AuthSession.credentials_version == User.credentials_version,
        )
        .label("session_is_live"),
    )
    .outerjoin(user_roles, user_roles.c.user_id == User.id)
    .outerjoin(Role, Role.id == user_roles.c.role_id)
    .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
    .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
    .where(User.id == bindparam("user_id", type_=User.id.type)),
    PrincipalRow,
)


async def load_principal(
    database: Database, user_id: int, session_id: uuid.UUID
) -> Principal | None:
    """The user with role and permission names, if the token's session is live: one round
    trip (the hot path), so a logout ends its access tokens at once."""
    rows = await database.fetch(PRINCIPAL, {"user_id": user_id, "session_id": session_id})
    if not rows or not rows[0].session_is_live:
        return None
    first = rows[0]
    return Principal(
        id=user_id,
        email=first.email,
        full_name=first.full_name,
        is_active=first.is_active,
        created_at=first.created_at,
        roles=tuple(sorted({row.role for row in rows if row.role is not None})),
        permissions=frozenset(row.permission for row in rows if row.permission is not None),
        session_id=session_id,
    )


# --- Registration and passwords -------------------------------------------------------------


async def check_default_role(database: Database, settings: Settings) -> None:
    """Refuse to start when DEFAULT_ROLE names no role: every registration would fail."""
    async with database.sessionmaker() as session:
        found = await session.scalar(select(Role.id).where(Role.name == settings.default_role))
    if found is None:
        raise SettingsError(
            f"py-auth cannot start:\n  DEFAULT_ROLE: no role is named {settings.default_role!r} "
            "(create it first, or choose an existing role)."
        )


def check_password_policy(password: str, email: str | None, settings: Settings, field: str) -> None:
    problem = password_problem(password, email, min_length=settings.password_min_length)
    if problem is not None:
        raise PasswordRejected(problem, field=field)


async def register_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    client: ClientContext,
    *,
    email: str,
    password: str,
    full_name: str | None,
) -> User:
    if settings.registration == "closed":
        raise RegistrationClosed()
    check_password_policy(password, email, settings, field="password")
    hashed_password = await hasher.hash(password)
    default_role = await session.scalar(select(Role).where(Role.name == settings.default_role))
    if default_role is None:
        # Checked at startup, and the role cannot be deleted while it is the default.
        raise RuntimeError(f"The default role {settings.default_role!r} does not exist.")
    user = User(email=email, hashed_password=hashed_password, full_name=full_name)
    user.roles = [default_role]
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # The unique index decides, so two registrations racing for one email get one 409.
        raise EmailAlreadyRegistered() from None
    audit_log.record(session, Event.USER_REGISTERED, client, actor_id=user.id, subject_id=user.id)
    return user


async def change_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    client: ClientContext,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
) -> None:
    """Set a new password and end every session of the user."""
    user = await session.get_one(User, user_id)
    check_password_policy(new_password, user.email, settings, field="new_password")
    is_valid, _ = await hasher.verify_and_update(current_password, user.hashed_password)
    if not is_valid:
        raise WrongCurrentPassword()
    user.hashed_password = await hasher.hash(new_password)
    await revoke_all_sessions(session, user_id)
    audit_log.record(session, Event.PASSWORD_CHANGED, client, actor_id=user_id, subject_id=user_id)
    await session.flush()


# --- Login and its throttling ---------------------------------------------------------------


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
    """Check the credentials and start a session.

    Unknown email, wrong password and inactive account look the same from outside, in status,
    body and time (an unknown email is verified against a dummy hash), and all count toward
    the email's lockout. Each attempt is counted before its password is checked, so however
    many arrive at once, at most LOGIN_MAX_FAILURES passwords are checked in a window; during
    a lockout none is.
    """
    email = normalize_email(email)
    attempt = await _take_login_attempt(database, settings, email, utcnow())
    if attempt.retry_after is not None:
        await _failed_login(session, client, "throttled", email=email)
        raise LoginThrottled(attempt.retry_after)

    user = await session.scalar(select(User).where(User.email == email))
    new_hash: str | None = None
    if user is None:
        await hasher.verify_dummy(password)
        reason = "unknown_email"
    else:
        # Read before the password is checked: a change of credentials that commits while
        # it is checked leaves this login holding a version that no longer matches.
        credentials_version = user.credentials_version
        stored_hash = user.hashed_password
        is_valid, new_hash = await hasher.verify_and_update(password, stored_hash)
        reason = "bad_password" if not is_valid else "inactive" if not user.is_active else ""
    if user is None or reason:
        if attempt.number >= settings.login_max_failures:
            await _start_lockout(session, settings, email, utcnow(), attempt)
        await _failed_login(session, client, reason, email=email, user_id=user.id if user else None)
        raise InvalidCredentials()

    if new_hash is not None:
        # The stored hash used outdated parameters: upgrade it while we know the password,
        # unless the password changed meanwhile (then the new one's hash stays).
        await session.execute(
            update(User)
            .where(User.id == user.id, User.hashed_password == stored_hash)
            .values(hashed_password=new_hash)
            .execution_options(synchronize_session=False)
        )
    await session.execute(delete(LoginThrottle).where(LoginThrottle.email == email))
    pair = await start_session(
        session,
        access_tokens,
        settings,
        client,
        user_id=user.id,
        credentials_version=credentials_version,
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


@dataclass(frozen=True, slots=True)
class _LoginAttempt:
    number: int  # this attempt's place among the window's failures, itself included
    lockouts: int
    last_locked_until: datetime | None
    retry_after: int | None  # seconds, when the account is locked out


async def _take_login_attempt(
    database: Database, settings: Settings, email: str, now: datetime
) -> _LoginAttempt:
    """Count a login attempt as a failure before its password is checked (success forgets
    it), in one atomic upsert committed at once.

    Concurrent attempts on one email are numbered one after the other, so in a burst only the
    first LOGIN_MAX_FAILURES are checked; the one that goes over starts a lockout. The count
    runs in a transaction of its own: no lock is held while a password is hashed.
    """
    window_start = now - timedelta(seconds=settings.login_failure_window)
    table = LoginThrottle.__table__
    locked = table.c.locked_until > now
    window_expired = table.c.window_started_at < window_start
    async with database.sessionmaker() as attempts:
        insert = dialect_insert(attempts, table).values(
            email=email, failure_count=1, window_started_at=now, lockout_count=0
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.email],
            set_={
                "failure_count": case(
                    (locked, table.c.failure_count),
                    (window_expired, 1),
                    else_=table.c.failure_count + 1,
                ),
                "window_started_at": case(
                    (locked, table.c.window_started_at),
                    (window_expired, now),
                    else_=table.c.window_started_at,
                ),
            },
        ).returning(table.c.failure_count, table.c.lockout_count, table.c.locked_until)
        number, lockouts, locked_until = (await attempts.execute(upsert)).one()
        attempt = _LoginAttempt(number, lockouts, locked_until, retry_after=None)
        if locked_until is None or locked_until <= now:
            if number <= settings.login_max_failures:
                await attempts.commit()
                return attempt
            locked_until = await _start_lockout(attempts, settings, email, now, attempt)
        await attempts.commit()
    return replace(attempt, retry_after=max(1, math.ceil((locked_until - now).total_seconds())))


async def _start_lockout(
    session: AsyncSession, settings: Settings, email: str, now: datetime, attempt: _LoginAttempt
) -> datetime:
    """Lock the email out, for twice as long as its previous lockout (up to the maximum), and
    start a new window; the lockout already running, if one started meanwhile, stands."""
    lockouts = attempt.lockouts
    window_start = now - timedelta(seconds=settings.login_failure_window)
    # A lockout long past does not make the next one longer.
    if attempt.last_locked_until is not None and attempt.last_locked_until < window_start:
        lockouts = 0
    seconds = min(settings.login_lockout_seconds * 2**lockouts, settings.login_lockout_max_seconds)
    locked_until = now + timedelta(seconds=seconds)
    started = await session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.email == email,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
        .values(
            failure_count=0,
            window_started_at=now,
            lockout_count=lockouts + 1,
            locked_until=locked_until,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(started, "rowcount", 0):
        LOCKOUTS.inc()
    return locked_until


# --- Sessions and refresh tokens ------------------------------------------------------------


async def start_session(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    settings: Settings,
    client: ClientContext,
    *,
    user_id: int,
    credentials_version: int,
) -> TokenPair:
    """A new session (one login) with its first refresh token, and an access token.

    ``credentials_version`` is the user's as read before the password was checked."""
    now = utcnow()
    auth_session = AuthSession(
        user_id=user_id,
        credentials_version=credentials_version,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
        ip=client.ip,
        user_agent=client.user_agent,
    )
    session.add(auth_session)
    await session.flush()
    return await _issue_tokens(
        session,
        access_tokens,
        user_id=user_id,
        session_id=auth_session.id,
        session_expires_at=auth_session.expires_at,
    )


# Rotation runs as three Core statements built once (no ORM unit of work, no statement rebuilt
# per request): POST /auth/refresh is the busiest write of the service (BENCHMARKS.md).
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
# Its session, if live, not idle too long and its user active, is marked used.
_TOUCH_LIVE_SESSION = (
    update(_auth_sessions)
    .where(
        _auth_sessions.c.id == bindparam("session_id"),
        _auth_sessions.c.revoked_at.is_(None),
        _auth_sessions.c.last_used_at >= bindparam("idle_since"),
        exists().where(
            User.id == _auth_sessions.c.user_id,
            User.is_active.is_(True),
            User.credentials_version == _auth_sessions.c.credentials_version,
        ),
    )
    .values(last_used_at=bindparam("now"))
    .returning(_auth_sessions.c.user_id, _auth_sessions.c.expires_at)
)
_INSERT_REFRESH_TOKEN = insert(_refresh_tokens)


async def _issue_tokens(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    *,
    user_id: int,
    session_id: uuid.UUID,
    session_expires_at: datetime,
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
    return TokenPair(
        access_token=access_tokens.issue(user_id, session_id=session_id),
        refresh_token=refresh_token,
        expires_in=int(access_tokens.lifetime.total_seconds()),
        session_expires_at=session_expires_at,
    )


async def rotate_refresh_token(
    session: AsyncSession,
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
    token_hash = hash_opaque_token(refresh_token)
    rotated = (
        await session.execute(_REVOKE_PRESENTED_TOKEN, {"presented_hash": token_hash, "now": now})
    ).first()
    if rotated is None:
        await _explain_rejected_refresh(session, client, token_hash)
    idle_since = now - timedelta(days=settings.refresh_idle_days)
    touched = (
        await session.execute(
            _TOUCH_LIVE_SESSION,
            {"session_id": rotated.family_id, "idle_since": idle_since, "now": now},
        )
    ).first()
    if touched is None:
        await _explain_dead_session(session, rotated.family_id, idle_since)
    REFRESHES.labels("rotated").inc()
    return await _issue_tokens(
        session,
        access_tokens,
        user_id=touched.user_id,
        session_id=rotated.family_id,
        session_expires_at=touched.expires_at,
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
        await _revoke_sessions(session, AuthSession.id == token.family_id)
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


async def _revoke_sessions(session: AsyncSession, which: ColumnElement[bool]) -> int:
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


async def revoke_all_sessions(session: AsyncSession, user_id: int) -> None:
    """End every session of the user, and any that a login in flight is about to start."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(credentials_version=User.credentials_version + 1)
        .execution_options(synchronize_session=False)
    )
    await _revoke_sessions(session, AuthSession.user_id == user_id)


async def logout(session: AsyncSession, client: ClientContext, *, refresh_token: str) -> None:
    """End the session this refresh token belongs to; an unknown token is a no-op."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
    )
    if token is None or not await _revoke_sessions(session, AuthSession.id == token.family_id):
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
    its session. Anything else is ignored."""
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
    if await _revoke_sessions(session, which):
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
    await _revoke_sessions(session, AuthSession.id == session_id)
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


async def purge_stale_login_throttles(session: AsyncSession, settings: Settings) -> int:
    """Delete the failure counts that no longer bear on any login: no lockout running or
    recent, no failure within the window. The next failure would start from zero anyway, so
    this changes nothing but the table's size (unknown emails get rows too)."""
    window_start = utcnow() - timedelta(seconds=settings.login_failure_window)
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_started_at < window_start,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < window_start),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
