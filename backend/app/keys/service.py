"""The key set in the database: its first key, rotation, retirement, and reading it into the
key ring of each process.

Every change takes one lock (a PostgreSQL advisory lock held to the end of the transaction;
SQLite's write lock, which every transaction takes as it begins: app.core.engine) and decides
again under it from the rows as they are then, so several processes on one database never make
two keys where one was due.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.database import Database
from app.core.sealing import Sealer
from app.core.security import CLOCK_SKEW_SECONDS
from app.core.signing_keys import (
    KeyState,
    PrivateKey,
    SigningKey,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_jwk,
    thumbprint,
)
from app.keys.exceptions import KeyAlreadyRetired, KeyNotFound
from app.keys.models import SigningKeyRow

# pg_advisory_xact_lock's key for changes to the key set (any constant unique to this use).
KEY_SET_LOCK = 0x70795F6B657973  # "py_keys"


def sealing_context(kid: str) -> str:
    return f"signing_keys:{kid}"


def verifies_after_signing(settings: Settings) -> timedelta:
    """How long a key verifies after it stops signing: the life of the last token it signed,
    and the clock skew allowed between processes."""
    return timedelta(minutes=settings.access_token_minutes, seconds=CLOCK_SKEW_SECONDS)


async def list_keys(session: AsyncSession) -> list[SigningKeyRow]:
    """Every key, oldest first, as the database holds them now (read again under the lock,
    rows already loaded in the session are refreshed)."""
    statement = (
        select(SigningKeyRow)
        .order_by(SigningKeyRow.published_at)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(statement))


def _of_state(
    rows: list[SigningKeyRow], settings: Settings, state: KeyState, now: datetime
) -> list[SigningKeyRow]:
    return sorted(
        (
            row
            for row in rows
            if row.algorithm == settings.jwt_algorithm and row.times.state(now) is state
        ),
        key=lambda row: row.signs_from,
    )


def _needs_work(rows: list[SigningKeyRow], settings: Settings, now: datetime) -> bool:
    """No key signs now, or the one that does is due for rotation and has no successor."""
    active = _of_state(rows, settings, KeyState.ACTIVE, now)
    scheduled = _of_state(rows, settings, KeyState.NEXT, now)
    if not active:
        return True
    return not scheduled and _is_due(active[-1], settings, now)


def _is_due(row: SigningKeyRow, settings: Settings, now: datetime) -> bool:
    return row.signs_from + timedelta(days=settings.key_rotation_days) <= now


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEY_SET_LOCK})


async def _new_key(
    session: AsyncSession,
    sealer: Sealer,
    settings: Settings,
    *,
    published_at: datetime,
    signs_from: datetime,
) -> SigningKeyRow:
    # RSA key generation takes tens of milliseconds of CPU: off the event loop.
    private = await anyio.to_thread.run_sync(generate_private_key, settings.jwt_algorithm)
    jwk = public_jwk(private)
    kid = thumbprint(jwk)
    row = SigningKeyRow(
        kid=kid,
        algorithm=settings.jwt_algorithm,
        public_jwk=json.dumps(jwk),
        private_key=sealer.seal(private_key_pem(private), context=sealing_context(kid)),
        published_at=published_at,
        signs_from=signs_from,
    )
    session.add(row)
    await session.flush()
    return row


def _hand_over(old: SigningKeyRow, new: SigningKeyRow, settings: Settings) -> None:
    """``old`` signs until ``new`` starts, then verifies until its last token has expired."""
    old.signs_until = new.signs_from
    old.verifies_until = new.signs_from + verifies_after_signing(settings)


async def _schedule_successor(
    session: AsyncSession, sealer: Sealer, settings: Settings, now: datetime
) -> tuple[SigningKeyRow, bool]:
    """Under the lock: the next key, made if there is none (published now, signing after the
    publish lead). When no key signs now, one signs from now: the next key, or a new one.
    Whether a key was made."""
    rows = await list_keys(session)
    active = _of_state(rows, settings, KeyState.ACTIVE, now)
    scheduled = _of_state(rows, settings, KeyState.NEXT, now)
    if not active and scheduled:
        scheduled[0].signs_from = now  # a gap with no signer would fail every login
        await session.flush()
        return scheduled[0], False
    if scheduled:
        return scheduled[0], False
    if not active:
        return await _new_key(session, sealer, settings, published_at=now, signs_from=now), True
    new = await _new_key(
        session,
        sealer,
        settings,
        published_at=now,
        signs_from=now + timedelta(seconds=settings.key_publish_lead_seconds),
    )
    _hand_over(active[-1], new, settings)
    return new, True


async def maintain(session: AsyncSession, sealer: Sealer, settings: Settings) -> bool:
    """Make the first key, or the next one when the active key is KEY_ROTATION_DAYS old;
    whether anything was written. Cheap when nothing is due: one read, no lock."""
    now = utcnow()
    if not _needs_work(await list_keys(session), settings, now):
        return False
    await _lock(session)
    rows = await list_keys(session)
    if not _needs_work(rows, settings, now):
        return False  # another process did it while this one waited for the lock
    await _schedule_successor(session, sealer, settings, now)
    return True


@dataclass(frozen=True, slots=True)
class Rotation:
    key: SigningKeyRow
    created: bool


async def rotate(session: AsyncSession, sealer: Sealer, settings: Settings) -> Rotation:
    """Publish the next key now; it signs once the publish lead has passed, and the active
    key then retires. With a next key already published, that key (nothing is made)."""
    await _lock(session)
    key, created = await _schedule_successor(session, sealer, settings, utcnow())
    return Rotation(key=key, created=created)


@dataclass(frozen=True, slots=True)
class Retirement:
    key: SigningKeyRow
    # The key that signs from now on, when the retired one was signing.
    successor: SigningKeyRow | None = None
    successor_created: bool = False


async def retire(
    session: AsyncSession, sealer: Sealer, settings: Settings, kid: str, *, immediately: bool
) -> Retirement:
    """Stop a key signing now. It verifies until its tokens have expired; ``immediately``:
    not even that, and its tokens fail at their next request in every process (the query that
    loads the caller checks retired_at). A key that was signing hands over at once to the
    next key, or to a new one (then not published ahead)."""
    await _lock(session)
    now = utcnow()
    row = await session.get(SigningKeyRow, kid)
    if row is None:
        raise KeyNotFound(kid)
    state = row.times.state(now)
    if state is KeyState.RETIRED or (state is KeyState.RETIRING and not immediately):
        raise KeyAlreadyRetired(kid, state)
    if immediately or state is KeyState.NEXT:
        row.retired_at = now
    if state is not KeyState.ACTIVE:
        await session.flush()
        return Retirement(key=row)
    row.signs_until = now
    row.verifies_until = now + verifies_after_signing(settings)
    rows = await list_keys(session)
    scheduled = [
        other for other in _of_state(rows, settings, KeyState.NEXT, now) if other.kid != kid
    ]
    if scheduled:
        successor, created = scheduled[0], False
        successor.signs_from = now
    else:
        successor = await _new_key(session, sealer, settings, published_at=now, signs_from=now)
        created = True
    await session.flush()
    return Retirement(key=row, successor=successor, successor_created=created)


class KeySource:
    """The loader of a process's key ring (app.core.signing_keys.KeyRing): keeps the key set
    current (maintain), then reads it. Private keys are opened for the keys that sign now or
    will, once each (parsing an RSA key is not free)."""

    def __init__(self, database: Database, sealer: Sealer, settings: Settings) -> None:
        self._database = database
        self._sealer = sealer
        self._settings = settings
        self._private: dict[str, PrivateKey] = {}

    async def __call__(self) -> list[SigningKey]:
        async with self._database.sessionmaker.begin() as session:
            await maintain(session, self._sealer, self._settings)
            rows = await list_keys(session)
        now = utcnow()
        keys = []
        for row in rows:
            state = row.times.state(now)
            if state is KeyState.RETIRED or row.algorithm != self._settings.jwt_algorithm:
                continue
            private = None
            if state in (KeyState.NEXT, KeyState.ACTIVE):
                private = self._private.get(row.kid)
                if private is None:
                    pem = self._sealer.open(row.private_key, context=sealing_context(row.kid))
                    private = self._private[row.kid] = load_private_key(pem)
            jwk = json.loads(row.public_jwk)
            keys.append(
                SigningKey(
                    kid=row.kid,
                    algorithm=row.algorithm,
                    jwk=jwk,
                    times=row.times,
                    public_key=load_public_key(jwk),
                    private_key=private,
                )
            )
        return keys
