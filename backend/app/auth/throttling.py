"""Per-account throttling of failed logins: each attempt counted before its password is
checked, lockouts that double, and what ends them. Counted per normalized email in the
database, known account or not, so every process sees one count and both look alike."""

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from app.auth.models import LoginThrottle
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.database import Database
from app.core.metrics import LOCKOUTS


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    number: int  # this attempt's place among the window's failures, itself included
    lockouts: int
    last_locked_until: datetime | None
    retry_after: int | None  # seconds, when the account is locked out


async def take_login_attempt(
    database: Database, settings: Settings, email: str, now: datetime
) -> LoginAttempt:
    """Count a login attempt as a failure before its password is checked (success forgets
    it), in one atomic upsert committed at once.

    Concurrent attempts on one email are numbered one after the other, so in a burst only the
    first LOGIN_MAX_FAILURES are checked; the one that goes over starts a lockout. The count
    runs in a transaction of its own: no lock is held while a password is hashed.
    """
    async with database.sessionmaker() as attempts:
        attempt = await count_login_attempt(attempts, settings, email, now)
        await attempts.commit()
    return attempt


async def count_login_attempt(
    session: AsyncSession, settings: Settings, email: str, now: datetime
) -> LoginAttempt:
    """``take_login_attempt`` in the caller's transaction, for a check that hashes nothing (a
    second factor): the count commits with the request, or with the refusal that persists."""
    window_start = now - timedelta(seconds=settings.login_failure_window)
    statement = _COUNT_ATTEMPT[session.get_bind().dialect.name]
    values = {"email": email, "now": now, "window_start": window_start}
    number, lockouts, locked_until = (await session.execute(statement, values)).one()
    attempt = LoginAttempt(number, lockouts, locked_until, retry_after=None)
    if locked_until is None or locked_until <= now:
        if number <= settings.login_max_failures:
            return attempt
        locked_until = await start_lockout(session, settings, email, now, attempt)
    return replace(attempt, retry_after=max(1, math.ceil((locked_until - now).total_seconds())))


def _count_attempt_statement(insert: Callable[[Table], Any]) -> Executable:
    """The one atomic upsert that counts an attempt, built once per dialect with its values as
    parameters (built per call, it cost more than the rest of a second step)."""
    table = cast(Table, LoginThrottle.__table__)
    moment = table.c.window_started_at.type  # the app's UTC datetimes, on SQLite too
    now: BindParameter[datetime] = bindparam("now", type_=moment)
    window_start: BindParameter[datetime] = bindparam("window_start", type_=moment)
    locked = table.c.locked_until > now
    window_expired = table.c.window_started_at < window_start
    return cast(
        Executable,
        insert(table)
        .values(email=bindparam("email"), failure_count=1, window_started_at=now, lockout_count=0)
        .on_conflict_do_update(
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
        )
        .returning(table.c.failure_count, table.c.lockout_count, table.c.locked_until),
    )


_COUNT_ATTEMPT = {
    "postgresql": _count_attempt_statement(postgresql.insert),
    "sqlite": _count_attempt_statement(sqlite.insert),
}


async def start_lockout(
    session: AsyncSession, settings: Settings, email: str, now: datetime, attempt: LoginAttempt
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


_FORGET = delete(LoginThrottle).where(LoginThrottle.email == bindparam("email"))


async def forget_login_failures(session: AsyncSession, email: str) -> None:
    """Lift the lockout of this email and forget its failed attempts."""
    await session.execute(_FORGET, {"email": email})
