"""Writing security events: every domain records what it did, with who, when and from where.

``record`` only adds to the session: the event is committed with the change it describes, or
rolled back with it. Nothing secret goes in: callers pass ids, names and reasons, never
passwords, tokens or hashes. Reading the log is the audit domain's (app.audit).
"""

import hashlib
import logging
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log.models import AuditEvent
from app.core.clock import utcnow
from app.core.context import ClientContext
from app.core.engine import dialect_insert

logger = logging.getLogger("app.audit")


class Event(StrEnum):
    USER_REGISTERED = "user_registered"
    USER_CREATED = "user_created"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_CHANGED = "password_changed"
    USER_UPDATED = "user_updated"
    USER_DEACTIVATED = "user_deactivated"
    USER_DELETED = "user_deleted"
    ROLE_CREATED = "role_created"
    ROLE_PERMISSIONS_CHANGED = "role_permissions_changed"
    ROLE_DELETED = "role_deleted"
    LOCKOUT_LIFTED = "lockout_lifted"
    PERMISSION_DENIED = "permission_denied"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET_SENT = "password_reset_sent"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFICATION_SENT = "email_verification_sent"
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    USER_INVITED = "user_invited"
    INVITATION_ACCEPTED = "invitation_accepted"
    MFA_ENROLLMENT_STARTED = "mfa_enrollment_started"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RESET = "mfa_reset"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    REAUTHENTICATED = "reauthenticated"
    PERSONAL_ACCESS_TOKEN_CREATED = "personal_access_token_created"
    PERSONAL_ACCESS_TOKEN_REVOKED = "personal_access_token_revoked"
    # A personal access token refused: revoked, expired, its user inactive, or on a route no
    # token may call (token_not_allowed). Grouped per token, reason and minute.
    PERSONAL_ACCESS_TOKEN_REFUSED = "personal_access_token_refused"
    SERVICE_ACCOUNT_CREATED = "service_account_created"
    SERVICE_ACCOUNT_SECRET_ROTATED = "service_account_secret_rotated"


def record(
    session: AsyncSession,
    event: Event,
    client: ClientContext,
    *,
    actor_id: int | None = None,
    subject_id: int | None = None,
    **details: Any,
) -> None:
    _log(event, actor_id, subject_id)
    session.add(
        AuditEvent(
            event=event.value,
            actor_user_id=actor_id,
            subject_user_id=subject_id,
            ip=client.ip,
            user_agent=client.user_agent,
            request_id=client.request_id,
            details=details,
        )
    )


async def record_denial(
    session: AsyncSession,
    client: ClientContext,
    *,
    actor_id: int,
    route: str,
    missing: list[str],
    reason: str | None = None,
    token_prefix: str | None = None,
) -> None:
    """Record a permission refusal, one row per caller, route and minute.

    Any signed-in caller can be refused as often as they like: counting the repeats in one
    row (``occurrences``) keeps a loop on a forbidden route from flooding the audit log. A
    caller using a personal access token is named with its display prefix too.
    """
    group = (
        f"{Event.PERMISSION_DENIED} {actor_id} {route} {','.join(missing)} {reason} {token_prefix}"
    )
    details: dict[str, Any] = {"route": route, "missing": missing}
    if reason:
        details["reason"] = reason
    if token_prefix:
        details["token_prefix"] = token_prefix
    await record_grouped(
        session, Event.PERMISSION_DENIED, client, group=group, actor_id=actor_id, details=details
    )


async def record_grouped(
    session: AsyncSession,
    event: Event,
    client: ClientContext,
    *,
    group: str,
    actor_id: int | None = None,
    subject_id: int | None = None,
    details: dict[str, Any],
) -> None:
    """Record an event that a caller can repeat at will, one row per group and minute: the
    repeats are counted in that row (``occurrences``), so a loop cannot flood the log."""
    now = utcnow()
    # Hashed, so a long route cannot outgrow the column; the minute makes a new group.
    key = f"{now:%Y-%m-%dT%H:%M} {hashlib.sha256(group.encode()).hexdigest()}"
    _log(event, actor_id, subject_id)
    table = AuditEvent.__table__
    insert = dialect_insert(session, table).values(
        occurred_at=now,
        event=event.value,
        actor_user_id=actor_id,
        subject_user_id=subject_id,
        ip=client.ip,
        user_agent=client.user_agent,
        request_id=client.request_id,
        details=details,
        occurrences=1,
        aggregate_key=key,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.aggregate_key],
            set_={"occurrences": table.c.occurrences + 1},
        )
    )


def _log(event: Event, actor_id: int | None, subject_id: int | None) -> None:
    # Also a log line, for log-based alerting; ids and names only (no email, nothing secret).
    logger.info(
        "audit %s",
        event.value,
        extra={"fields": {"event": event.value, "actor_id": actor_id, "subject_id": subject_id}},
    )
