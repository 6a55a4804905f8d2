"""Audit events as the API shows them."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
