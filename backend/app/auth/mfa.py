"""The second factor: TOTP authenticators (RFC 6238) and recovery codes, turned on, checked
once, and turned off. The second step of a sign-in is app.auth.second_step.

Every "use once" here is one conditional UPDATE, so that of several requests racing with the
same code exactly one wins: a TOTP time step is accepted only if it is later than the last one
accepted for the user, a recovery code only while it is unused (and, in app.auth.second_step, a
challenge only while it has attempts left).
"""

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import pyotp
import segno
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import (
    InvalidSecondFactor,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    NoPendingEnrollment,
)
from app.auth.models import Permission, RecoveryCode, TotpCredential, User
from app.auth.postbox import Postbox
from app.auth.session_ends import end_other_sessions, revoke_all_sessions
from app.core.clock import utcnow
from app.core.config import Settings, SettingsError
from app.core.context import ClientContext
from app.core.database import Database
from app.core.engine import dialect_insert
from app.core.errors import ServiceUnavailable
from app.core.sealing import Sealer, UnsealError
from app.core.security import derive_key

logger = logging.getLogger(__name__)

TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
# Codes of the step before and after the current one are accepted too: clocks drift, and a
# code typed in the last seconds of its step arrives in the next.
TOTP_SKEW_STEPS = 1
SECRET_BASE32_LENGTH = 32  # 160 bits, as RFC 4226 §4 recommends
PENDING_ENROLLMENT = timedelta(minutes=10)
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: a code is read off paper. 10 characters of 31: 49 bits each.
RECOVERY_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
RECOVERY_CODE_KEY_PURPOSE = "py-auth recovery codes"
METHODS = ("totp", "recovery_code")


@dataclass(frozen=True, slots=True)
class Enrollment:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class MfaStatus:
    enabled: bool
    enabled_at: datetime | None
    pending: bool
    recovery_codes_left: int


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """What the user typed as their second factor: a TOTP code or a recovery code."""

    code: str | None = None
    recovery_code: str | None = None


async def check_required_permissions(database: Database, settings: Settings) -> None:
    """Refuse to start when MFA_REQUIRED_PERMISSIONS names a permission that does not exist:
    a typo would silently require nothing."""
    if not settings.mfa_required_permissions:
        return
    async with database.sessionmaker() as session:
        known = set(await session.scalars(select(Permission.name)))
    if unknown := sorted(settings.mfa_required_permissions - known):
        raise SettingsError(
            "py-auth cannot start:\n  MFA_REQUIRED_PERMISSIONS: no permission is named "
            f"{', '.join(map(repr, unknown))} (GET /permissions lists them)."
        )


def _secret_context(user_id: int) -> str:
    # The sealed secret opens only in its own row: copied to another user's, it does not.
    return f"totp_credentials.secret:{user_id}"


def _open_secret(sealer: Sealer, credential: TotpCredential) -> str:
    """The authenticator's secret. One that no configured key opens (a key removed from
    ENCRYPTION_KEYS, a JWT_SECRET changed without ENCRYPTION_KEYS) is the operator's to mend,
    not a wrong code: 503, and an error in the log naming the key id, never the value."""
    try:
        return sealer.open(
            credential.secret_sealed, context=_secret_context(credential.user_id)
        ).decode()
    except UnsealError:
        key_id = credential.secret_sealed.split(".")[1:2]
        logger.error(
            "a TOTP secret does not open: is its key in ENCRYPTION_KEYS?",
            extra={"fields": {"user_id": credential.user_id, "key_id": "".join(key_id)}},
        )
        raise ServiceUnavailable("The second factor cannot be checked now.") from None


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)


def _current_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_PERIOD_SECONDS


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, within the allowed skew; None if none. Every
    candidate is compared in constant time."""
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = _totp(secret)
    found = None
    for step in range(
        _current_step(now) - TOTP_SKEW_STEPS, _current_step(now) + TOTP_SKEW_STEPS + 1
    ):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def recovery_code_hash(settings: Settings, code: str) -> str:
    """A keyed hash: a stolen table of them cannot be searched offline without the key, though
    the codes carry 49 bits each."""
    key = derive_key(settings.jwt_secret.get_secret_value(), RECOVERY_CODE_KEY_PURPOSE, 32)
    normalized = "".join(code.split()).replace("-", "").lower()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


async def _replace_recovery_codes(
    session: AsyncSession, settings: Settings, user_id: int
) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=recovery_code_hash(settings, code))
        for code in codes
    )
    await session.flush()
    return codes


async def status(session: AsyncSession, *, user_id: int) -> MfaStatus:
    credential = await session.get(TotpCredential, user_id)
    left = await session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    enabled = credential is not None and credential.confirmed_at is not None
    return MfaStatus(
        enabled=enabled,
        enabled_at=credential.confirmed_at if credential else None,
        pending=credential is not None
        and not enabled
        and credential.created_at > utcnow() - PENDING_ENROLLMENT,
        recovery_codes_left=int(left or 0) if enabled else 0,
    )


async def start_enrollment(
    session: AsyncSession,
    sealer: Sealer,
    settings: Settings,
    client: ClientContext,
    *,
    user_id: int,
    email: str,
) -> Enrollment:
    """A new secret, pending until a code from it confirms it (within PENDING_ENROLLMENT).
    Starting again replaces a pending secret; an enabled authenticator stays until turned off."""
    secret = pyotp.random_base32(SECRET_BASE32_LENGTH)
    sealed = sealer.seal(secret.encode(), context=_secret_context(user_id))
    table = TotpCredential.__table__
    now = utcnow()
    upsert = (
        dialect_insert(session, table)
        .values(user_id=user_id, secret_sealed=sealed, created_at=now, last_used_step=0)
        .on_conflict_do_update(
            index_elements=[table.c.user_id],
            set_={"secret_sealed": sealed, "created_at": now, "last_used_step": 0},
            where=table.c.confirmed_at.is_(None),
        )
        .returning(table.c.user_id)
    )
    if (await session.execute(upsert)).first() is None:
        raise MfaAlreadyEnabled()
    audit_log.record(
        session, Event.MFA_ENROLLMENT_STARTED, client, actor_id=user_id, subject_id=user_id
    )
    uri = _totp(secret).provisioning_uri(name=email, issuer_name=settings.mfa_issuer)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, title="Authenticator QR code")
    return Enrollment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg)


async def confirm_enrollment(
    session: AsyncSession,
    sealer: Sealer,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    user_id: int,
    email: str,
    session_id: uuid.UUID,
    code: str,
) -> list[str]:
    """Turn the pending authenticator on with a first code from it, and return a new set of
    recovery codes (shown once). That code's step counts as used; every other session of the
    user ends (they began before the account had a second factor)."""
    now = utcnow()
    credential = await session.get(TotpCredential, user_id)
    if credential is None or credential.confirmed_at is not None:
        raise MfaAlreadyEnabled() if credential else NoPendingEnrollment()
    if credential.created_at <= now - PENDING_ENROLLMENT:
        raise NoPendingEnrollment("The enrollment has expired; start again.")
    secret = _open_secret(sealer, credential)
    step = matching_step(secret, code, now)
    if step is None:
        raise InvalidSecondFactor("The code does not match; check the time on your device.")
    confirmed = await session.execute(
        update(TotpCredential)
        .where(
            TotpCredential.user_id == user_id,
            TotpCredential.confirmed_at.is_(None),
            TotpCredential.secret_sealed == credential.secret_sealed,
        )
        .values(confirmed_at=now, last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    if not getattr(confirmed, "rowcount", 0):
        raise NoPendingEnrollment("The enrollment changed meanwhile; start again.")
    codes = await _replace_recovery_codes(session, settings, user_id)
    await end_other_sessions(session, user_id=user_id, keep=session_id)
    audit_log.record(session, Event.MFA_ENABLED, client, actor_id=user_id, subject_id=user_id)
    postbox.send("mfa_enabled", email)
    return codes


async def regenerate_recovery_codes(
    session: AsyncSession, settings: Settings, client: ClientContext, *, user_id: int
) -> list[str]:
    """A new set of recovery codes; the old set stops working."""
    if not await is_enabled(session, user_id):
        raise MfaNotEnabled()
    codes = await _replace_recovery_codes(session, settings, user_id)
    audit_log.record(
        session, Event.RECOVERY_CODES_REGENERATED, client, actor_id=user_id, subject_id=user_id
    )
    return codes


async def disable(
    session: AsyncSession,
    sealer: Sealer,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    user_id: int,
    email: str,
    factor: SecondFactor,
) -> None:
    """Turn the second factor off, with a current code (or a recovery code)."""
    if not await is_enabled(session, user_id):
        raise MfaNotEnabled()
    await check_second_factor(session, sealer, settings, user_id=user_id, factor=factor)
    await _remove(session, user_id)
    audit_log.record(session, Event.MFA_DISABLED, client, actor_id=user_id, subject_id=user_id)
    postbox.send("mfa_disabled", email)


async def reset(
    session: AsyncSession,
    postbox: Postbox,
    client: ClientContext,
    *,
    target: User,
    actor_id: int,
    reason: str,
) -> None:
    """An administrator turns a user's second factor off (a lost device): the user's sessions
    end, the user is told by mail, and the reason is audited."""
    if not await is_enabled(session, target.id):
        raise MfaNotEnabled()
    await _remove(session, target.id)
    await revoke_all_sessions(session, target.id)
    audit_log.record(
        session, Event.MFA_RESET, client, actor_id=actor_id, subject_id=target.id, reason=reason
    )
    postbox.send("mfa_disabled", target.email)


async def _remove(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(TotpCredential).where(TotpCredential.user_id == user_id))
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


async def is_enabled(session: AsyncSession, user_id: int) -> bool:
    """Whether the user has a confirmed authenticator."""
    confirmed_at = await session.scalar(
        select(TotpCredential.confirmed_at).where(TotpCredential.user_id == user_id)
    )
    return confirmed_at is not None


_recovery_codes = cast(Table, RecoveryCode.__table__)
_SPEND_RECOVERY_CODE = (
    update(_recovery_codes)
    .where(
        _recovery_codes.c.user_id == bindparam("owner_id"),
        _recovery_codes.c.code_hash == bindparam("presented_hash"),
        _recovery_codes.c.used_at.is_(None),
    )
    .values(used_at=bindparam("now", type_=_recovery_codes.c.used_at.type))
)


async def check_second_factor(
    session: AsyncSession, sealer: Sealer, settings: Settings, *, user_id: int, factor: SecondFactor
) -> str:
    """Accept the factor once, and return its RFC 8176 method ("otp", or "mfa" for a recovery
    code), else InvalidSecondFactor. Exactly one of several concurrent uses of one code wins."""
    if factor.code is not None:
        credential = await session.get(TotpCredential, user_id)
        if credential is not None and credential.confirmed_at is not None:
            step = matching_step(_open_secret(sealer, credential), factor.code, utcnow())
            if step is not None and await _take_step(session, user_id, step):
                return "otp"
    elif factor.recovery_code is not None:
        used = await session.execute(
            _SPEND_RECOVERY_CODE,
            {
                "owner_id": user_id,
                "presented_hash": recovery_code_hash(settings, factor.recovery_code),
                "now": utcnow(),
            },
        )
        if getattr(used, "rowcount", 0):
            return "mfa"
    raise InvalidSecondFactor()


async def _take_step(session: AsyncSession, user_id: int, step: int) -> bool:
    taken = await session.execute(
        update(TotpCredential)
        .where(
            TotpCredential.user_id == user_id,
            TotpCredential.confirmed_at.is_not(None),
            TotpCredential.last_used_step < step,
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0))
