"""/roles and /permissions: what each role may do. Requires manage_roles."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.core.app_state import SettingsDep
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.schemas import NO_NUL
from app.roles import service
from app.roles.dependencies import RoleManager
from app.roles.schemas import PermissionRead, RoleCreate, RolePermissionsUpdate, RoleRead

router = APIRouter(tags=["roles"])

RoleNamePath = Annotated[str, Path(max_length=64, pattern=NO_NUL)]


@router.get("/permissions", response_model=list[PermissionRead])
async def list_permissions(_: RoleManager, session: SessionDep) -> list[PermissionRead]:
    return [PermissionRead.model_validate(p) for p in await service.list_permissions(session)]


@router.get("/roles", response_model=list[RoleRead])
async def list_roles(_: RoleManager, session: SessionDep) -> list[RoleRead]:
    return [RoleRead.from_role(role) for role in await service.list_roles(session)]


@router.post(
    "/roles",
    status_code=status.HTTP_201_CREATED,
    response_model=RoleRead,
    responses=error_responses(409),
)
async def create_role(
    body: RoleCreate, manager: RoleManager, session: SessionDep, client: ClientContextDep
) -> RoleRead:
    return RoleRead.from_role(await service.create_role(session, client, body, actor=manager))


@router.put(
    "/roles/{name}/permissions", response_model=RoleRead, responses=error_responses(404, 409)
)
async def set_role_permissions(
    name: RoleNamePath,
    body: RolePermissionsUpdate,
    manager: RoleManager,
    session: SessionDep,
    client: ClientContextDep,
) -> RoleRead:
    role = await service.set_role_permissions(
        session, client, name, body.permissions, actor=manager
    )
    return RoleRead.from_role(role)


@router.delete(
    "/roles/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409)
)
async def delete_role(
    name: RoleNamePath,
    manager: RoleManager,
    session: SessionDep,
    client: ClientContextDep,
    settings: SettingsDep,
) -> None:
    await service.delete_role(
        session, client, name, actor=manager, default_role=settings.default_role
    )
