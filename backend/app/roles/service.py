"""Roles and the permissions they hold. A change applies to every holder at their next request,
since permissions are read from the database on each request."""

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.models import Permission, Role, user_roles
from app.auth.schemas import Principal
from app.core.context import ClientContext
from app.roles.exceptions import (
    AdminRoleProtected,
    BuiltInRoleProtected,
    DefaultRoleProtected,
    PermissionGrantDenied,
    RoleAlreadyExists,
    RoleInUse,
    RoleNotFound,
    UnknownPermission,
)
from app.roles.schemas import RoleCreate

BUILT_IN_ROLES = frozenset({"viewer", "editor", "admin"})
ADMIN_ROLE = "admin"


async def list_permissions(session: AsyncSession) -> list[Permission]:
    return list(await session.scalars(select(Permission).order_by(Permission.name)))


async def list_roles(session: AsyncSession) -> list[Role]:
    return list(
        await session.scalars(
            select(Role).options(selectinload(Role.permissions)).order_by(Role.name)
        )
    )


async def get_role(session: AsyncSession, name: str) -> Role:
    role = await session.scalar(
        select(Role).options(selectinload(Role.permissions)).where(Role.name == name)
    )
    if role is None:
        raise RoleNotFound()
    return role


async def _permissions_by_name(session: AsyncSession, names: list[str]) -> list[Permission]:
    wanted = set(names)
    permissions = list(await session.scalars(select(Permission).where(Permission.name.in_(wanted))))
    unknown = sorted(wanted - {permission.name for permission in permissions})
    if unknown:
        raise UnknownPermission(unknown)
    return permissions


def _guard_grant(
    session: AsyncSession, client: ClientContext, names: set[str], actor: Principal, role: str
) -> None:
    """Nobody hands out or takes away a permission they do not hold themselves."""
    if missing := sorted(names - actor.permissions):
        audit_log.record(
            session,
            Event.PERMISSION_DENIED,
            client,
            actor_id=actor.id,
            action="change_permissions",
            role=role,
            missing=missing,
        )
        raise PermissionGrantDenied(missing)


async def create_role(
    session: AsyncSession, client: ClientContext, data: RoleCreate, *, actor: Principal
) -> Role:
    permissions = await _permissions_by_name(session, data.permissions)
    _guard_grant(session, client, {p.name for p in permissions}, actor, data.name)
    role = Role(name=data.name, description=data.description, permissions=permissions)
    session.add(role)
    try:
        await session.flush()
    except IntegrityError:
        raise RoleAlreadyExists() from None
    audit_log.record(
        session,
        Event.ROLE_CREATED,
        client,
        actor_id=actor.id,
        role=role.name,
        permissions=sorted(permission.name for permission in permissions),
    )
    return role


async def set_role_permissions(
    session: AsyncSession,
    client: ClientContext,
    name: str,
    permission_names: list[str],
    *,
    actor: Principal,
) -> Role:
    role = await get_role(session, name)
    permissions = await _permissions_by_name(session, permission_names)
    if role.name == ADMIN_ROLE and len(permissions) < len(await list_permissions(session)):
        # Taking a permission from admin could leave nobody able to grant it back.
        raise AdminRoleProtected()
    old = {permission.name for permission in role.permissions}
    new = {permission.name for permission in permissions}
    _guard_grant(session, client, new ^ old, actor, role.name)
    role.permissions = permissions
    await session.flush()
    audit_log.record(
        session,
        Event.ROLE_PERMISSIONS_CHANGED,
        client,
        actor_id=actor.id,
        role=role.name,
        added=sorted(new - old),
        removed=sorted(old - new),
    )
    return role


async def delete_role(
    session: AsyncSession,
    client: ClientContext,
    name: str,
    *,
    actor: Principal,
    default_role: str,
) -> None:
    role = await get_role(session, name)
    if role.name in BUILT_IN_ROLES:
        raise BuiltInRoleProtected()
    if role.name == default_role:
        raise DefaultRoleProtected()
    if await session.scalar(select(exists().where(user_roles.c.role_id == role.id))):
        raise RoleInUse()
    await session.delete(role)
    await session.flush()
    audit_log.record(session, Event.ROLE_DELETED, client, actor_id=actor.id, role=name)
