"""Audit events as the API shows them."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.audit_log.writer import Event
from app.core.pagination import PageParams
from app.core.types import MAX_ID


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    event: str
    actor_user_id: int | None
    subject_user_id: int | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
    occurrences: int = Field(
        description="How many times the event happened: repeated permission refusals of one "
        "caller on one route within a minute share one row."
    )


class AuditQuery(PageParams):
    """GET /audit-events's query string: a page and its filters."""

    event: Event | None = Field(default=None, description="Only this event.")
    user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Actor or subject of the event."
    )
    since: datetime | None = Field(default=None, description="From this time (inclusive).")
    until: datetime | None = Field(default=None, description="Before this time.")
