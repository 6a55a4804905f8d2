"""Who may read the policy, and the routes it is read from."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request
from starlette.routing import BaseRoute

from app.auth.dependencies import require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal

PolicyReader = Annotated[Principal, require_permission(Perm.MANAGE_ROLES)]


async def app_routes(request: Request) -> Sequence[BaseRoute]:
    """The routes of the app serving the request: the policy is read from them."""
    return list(request.app.routes)


AppRoutes = Annotated[Sequence[BaseRoute], Depends(app_routes)]
