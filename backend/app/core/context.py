"""Who is on the other end of a request, for the audit log and the rate limits."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.app_state import client_ip_of
from app.core.logging import request_id_var

USER_AGENT_MAX = 256


@dataclass(frozen=True, slots=True)
class ClientContext:
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


async def client_context(request: Request) -> ClientContext:
    user_agent = request.headers.get("user-agent")
    return ClientContext(
        ip=client_ip_of(request),
        user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
        request_id=request_id_var.get(),
    )


ClientContextDep = Annotated[ClientContext, Depends(client_context)]
