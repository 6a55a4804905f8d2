"""/audit-events: who did what, when, from where. Requires read_audit."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.dependencies import AuditReader
from app.audit.schemas import AuditEventRead
from app.audit_log.writer import Event
from app.core.database import SessionDep
from app.core.pagination import Page, PageParamsDep
from app.core.types import MAX_ID

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", response_model=Page[AuditEventRead])
async def list_audit_events(
    _: AuditReader,
    session: SessionDep,
    page: PageParamsDep,
    event: Annotated[Event | None, Query(description="Only this event.")] = None,
    user_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Actor or subject of the event.")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> Page[AuditEventRead]:
    events, has_more = await service.list_events(
        session, page, event=event, user_id=user_id, since=since, until=until
    )
    return Page[AuditEventRead](
        items=[AuditEventRead.model_validate(item) for item in events],
        limit=page.limit,
        offset=page.offset,
        has_more=has_more,
    )
