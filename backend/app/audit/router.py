"""/audit-events: who did what, when, from where. Requires read_audit."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.dependencies import AuditReader
from app.audit.schemas import AuditEventRead, AuditQuery
from app.core.database import SessionDep
from app.core.pagination import Page

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", response_model=Page[AuditEventRead])
async def list_audit_events(
    _: AuditReader,
    session: SessionDep,
    query: Annotated[AuditQuery, Query()],
) -> Page[AuditEventRead]:
    events, has_more = await service.list_events(session, query)
    return Page[AuditEventRead](
        items=[AuditEventRead.model_validate(item) for item in events],
        limit=query.limit,
        offset=query.offset,
        has_more=has_more,
    )
