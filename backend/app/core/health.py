"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from sqlalchemy import text

from app.core.app_state import database_of
from app.core.errors import DATABASE_UNAVAILABLE, ServiceUnavailable, error_responses

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up. Never touches the database, so a database outage does not get
    healthy processes restarted."""
    return {"status": "ok"}


@router.get("/ready", responses=error_responses(503))
async def ready(request: Request) -> dict[str, str]:
    """The process can serve: the database answers a query."""
    database = database_of(request)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except DATABASE_UNAVAILABLE:
        raise ServiceUnavailable("The database is not reachable.") from None
    return {"status": "ok"}
