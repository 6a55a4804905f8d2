"""The audit log: one row per security event, written in the transaction of the change."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.orm import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_event_occurred_at", "event", "occurred_at"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_subject_user_id", "subject_user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(64))
    # Plain ids, not foreign keys: the record outlives the users it names.
    actor_user_id: Mapped[int | None]
    subject_user_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    request_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Repeated events of one kind (the refusals of one caller on one route within a minute)
    # share a row: its key names the group, and `occurrences` counts them, so a caller who
    # loops on a forbidden route adds one row a minute, not one per request.
    occurrences: Mapped[int] = mapped_column(default=1, server_default="1")
    aggregate_key: Mapped[str | None] = mapped_column(String(255), unique=True)
