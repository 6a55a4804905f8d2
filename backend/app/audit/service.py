"""Reading and purging the audit log (written by app.audit_log.writer)."""

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.schemas import AuditQuery
from app.audit_log.models import AuditEvent
from app.core.pagination import page_of


async def list_events(session: AsyncSession, query: AuditQuery) -> tuple[list[AuditEvent], bool]:
    """A page of events, newest first, and whether more follow."""
    conditions: list[ColumnElement[bool]] = []
    if query.event:
        conditions.append(AuditEvent.event == query.event)
    if (user_id := query.user_id) is not None:
        conditions.append(
            or_(AuditEvent.actor_user_id == user_id, AuditEvent.subject_user_id == user_id)
        )
    if query.since is not None:
        conditions.append(AuditEvent.occurred_at >= _as_utc(query.since))
    if query.until is not None:
        conditions.append(AuditEvent.occurred_at < _as_utc(query.until))
    events = await session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(query.fetch_limit)
        .offset(query.offset)
    )
    return page_of(events.all(), query)


def _as_utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC, the zone of every stored timestamp."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def purge_events(session: AsyncSession, *, older_than: datetime) -> int:
    result = await session.execute(delete(AuditEvent).where(AuditEvent.occurred_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
