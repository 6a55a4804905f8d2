"""User administration and self-service profile changes."""

from collections.abc import Awaitable, Callable

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import ColumnElement

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import pats as personal_tokens
from app.auth.accounts import add_account
from app.auth.models import (
    Permission,
    Role,
    User,
    role_permissions,
    user_roles,
)
from app.auth.permissions import Perm
from app.auth.schemas import Principal
from app.auth.session_ends import revoke_all_sessions
from app.core.config import Settings
from app.core.context import ClientContext
from app.core.pagination import page_of
from app.core.security import PasswordHasher
from app.core.types import normalize_email
from app.users.exceptions import (
    LastAdminProtected,
    PrivateFilterDenied,
    RoleChangeDenied,
    TargetOutranksActor,
    UnknownRole,
    UserNotFound,
)
from app.users.schemas import UserCreate, UsersQuery, UserUpdate

ADMIN_ROLE = "admin"


def _users_query() -> Select[User]:
    return select(User).options(selectinload(User.roles))


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(_users_query().where(User.id == user_id))
    if user is None:
        raise UserNotFound()
    return user


async def list_users(
    session: AsyncSession, client: ClientContext, query: UsersQuery, *, viewer: Principal
) -> tuple[list[User], bool]:
    """A page of users, newest first, and whether more follow. Filtering by email needs the
    right to see emails (else the filter would tell which addresses have accounts)."""
    conditions: list[ColumnElement[bool]] = []
    if query.email:
        if Perm.READ_USER_PRIVATE not in viewer.permissions:
            await audit_log.record_denial(
                session,
                client,
                actor_id=viewer.id,
                route="GET /users?email",
                missing=[Perm.READ_USER_PRIVATE],
            )
            raise PrivateFilterDenied()
        # Emails are stored normalized; escape LIKE wildcards so the filter is a substring.
        needle = normalize_email(query.email)
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(User.email.like(f"%{escaped}%", escape="\\"))
    if query.role:
        conditions.append(User.roles.any(Role.name == query.role))
    users = await session.scalars(
        _users_query()
        .where(*conditions)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(query.fetch_limit)
        .offset(query.offset)
    )
    return page_of(users.all(), query)


async def update_profile(session: AsyncSession, user_id: int, *, full_name: str | None) -> User:
    user = await get_user(session, user_id)
    user.full_name = full_name
    await session.flush()
    return user


async def roles_by_name(session: AsyncSession, names: list[str]) -> list[Role]:
    wanted = set(names)
    roles = list(await session.scalars(select(Role).where(Role.name.in_(wanted))))
    unknown = sorted(wanted - {role.name for role in roles})
    if unknown:
        raise UnknownRole(unknown)
    return sorted(roles, key=lambda role: role.name)


async def _guard_last_admin(session: AsyncSession, user: User) -> None:
    """Refuse a change that would leave no active admin.

    Every such check first locks the admin role's row (PostgreSQL), so two admins demoting,
    deactivating or deleting each other at once are checked one after the other; the count
    is then a new statement, which sees what the other transaction committed. Locking the
    admins' user rows would not do: a demotion changes user_roles, not the user row, so a
    waiting check would go on with its old view of who is admin. On SQLite, transactions
    are already serialized.
    """
    await session.execute(select(Role.id).where(Role.name == ADMIN_ROLE).with_for_update())
    active_admin_ids = set(
        await session.scalars(
            select(User.id)
            .join(user_roles, user_roles.c.user_id == User.id)
            .join(Role, Role.id == user_roles.c.role_id)
            .where(Role.name == ADMIN_ROLE, User.is_active.is_(True))
        )
    )
    if user.id in active_admin_ids and len(active_admin_ids) == 1:
        raise LastAdminProtected()


async def guard_target(
    session: AsyncSession, client: ClientContext, user: User, *, actor: Principal, action: str
) -> None:
    """Refuse to act on a user who holds a permission the actor lacks (403, audited): only
    someone who holds at least as much may change, lock out, delete or sign out a user."""
    held = set(
        await session.scalars(
            select(Permission.name)
            .join(role_permissions, role_permissions.c.permission_id == Permission.id)
            .join(user_roles, user_roles.c.role_id == role_permissions.c.role_id)
            .where(user_roles.c.user_id == user.id)
        )
    )
    if missing := sorted(held - actor.permissions):
        audit_log.record(
            session,
            Event.PERMISSION_DENIED,
            client,
            actor_id=actor.id,
            subject_id=user.id,
            action=action,
            missing=missing,
        )
        raise TargetOutranksActor(missing)


def _is_active_admin(user: User) -> bool:
    return user.is_active and any(role.name == ADMIN_ROLE for role in user.roles)


async def guard_role_change(
    session: AsyncSession,
    client: ClientContext,
    held: set[str],
    new_roles: list[Role],
    *,
    actor: Principal,
    action: str,
    subject_id: int | None = None,
) -> None:
    """Refuse to grant or remove a role holding a permission the actor lacks (no escalation);
    the refusal is audited."""
    changed = {role.name for role in new_roles} ^ held
    if not changed:
        return
    needed = set(
        await session.scalars(
            select(Permission.name)
            .join(role_permissions, role_permissions.c.permission_id == Permission.id)
            .join(Role, Role.id == role_permissions.c.role_id)
            .where(Role.name.in_(changed))
        )
    )
    if missing := sorted(needed - actor.permissions):
        audit_log.record(
            session,
            Event.PERMISSION_DENIED,
            client,
            actor_id=actor.id,
            subject_id=subject_id,
            action=action,
            missing=missing,
        )
        raise RoleChangeDenied(missing)


async def update_user(
    session: AsyncSession,
    client: ClientContext,
    user_id: int,
    changes: UserUpdate,
    *,
    actor: Principal,
) -> User:
    """Apply an administrator's changes. Roles whose permissions the actor does not all hold
    can be neither granted nor removed. Deactivating ends every session of the user."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="update_user")
    old_roles = sorted(role.name for role in user.roles)
    fields = changes.model_fields_set
    new_roles = await roles_by_name(session, changes.roles) if changes.roles is not None else None
    if new_roles is not None:
        await guard_role_change(
            session,
            client,
            {role.name for role in user.roles},
            new_roles,
            actor=actor,
            action="change_roles",
            subject_id=user.id,
        )
    loses_admin = _is_active_admin(user) and (
        (changes.is_active is False)
        or (new_roles is not None and all(role.name != ADMIN_ROLE for role in new_roles))
    )
    if loses_admin:
        await _guard_last_admin(session, user)
    if "full_name" in fields:
        user.full_name = changes.full_name
    if changes.is_active is not None:
        if user.is_active and not changes.is_active:
            await revoke_all_sessions(session, user.id)
            await personal_tokens.revoke_all_tokens(
                session, client, user_id=user.id, actor_id=actor.id, reason="user_deactivated"
            )
            audit_log.record(
                session, Event.USER_DEACTIVATED, client, actor_id=actor.id, subject_id=user.id
            )
        user.is_active = changes.is_active
    details: dict[str, object] = {"fields": sorted(fields)}
    if new_roles is not None:
        user.roles = new_roles
        details.update(old_roles=old_roles, new_roles=[role.name for role in new_roles])
    audit_log.record(
        session, Event.USER_UPDATED, client, actor_id=actor.id, subject_id=user.id, **details
    )
    await session.flush()
    return user


async def delete_user(
    session: AsyncSession, client: ClientContext, user_id: int, *, actor: Principal
) -> None:
    """Delete a user; their sessions and refresh tokens go with them, their articles stay."""
    user = await get_user(session, user_id)
    await guard_target(session, client, user, actor=actor, action="delete_user")
    if _is_active_admin(user):
        await _guard_last_admin(session, user)
    # Revoked first, so that the audit log names each token that the deletion ended.
    await personal_tokens.revoke_all_tokens(
        session, client, user_id=user.id, actor_id=actor.id, reason="user_deleted"
    )
    await session.execute(delete(User).where(User.id == user.id))
    audit_log.record(
        session, Event.USER_DELETED, client, actor_id=actor.id, subject_id=user.id, email=user.email
    )


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    client: ClientContext,
    data: UserCreate,
    *,
    actor: Principal,
) -> User:
    """An administrator creates an account: its roles may hold only permissions the actor
    holds (as for role changes), its password meets the policy."""
    roles = await roles_by_name(session, data.roles or [settings.default_role])
    await guard_role_change(session, client, set(), roles, actor=actor, action="create_user")
    user = await add_account(
        session,
        hasher,
        settings,
        email=data.email,
        password=data.password,
        full_name=data.full_name,
        roles=roles,
    )
    audit_log.record(
        session,
        Event.USER_CREATED,
        client,
        actor_id=actor.id,
        subject_id=user.id,
        roles=[role.name for role in roles],
    )
    return user


async def grant_admin(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    email: str,
    password: Callable[[], Awaitable[str]],
) -> bool:
    """Make the user with this email an active admin, creating them when needed.

    ``password`` is asked for only when a user is created. Returns whether one was.
    """
    admin = await session.scalar(select(Role).where(Role.name == ADMIN_ROLE))
    if admin is None:
        raise RuntimeError("The admin role is missing: run the migrations first.")
    user = await session.scalar(_users_query().where(User.email == email))
    created = user is None
    if user is None:
        user = User(email=email, hashed_password=await hasher.hash(await password()), roles=[])
        session.add(user)
    if admin not in user.roles:
        user.roles.append(admin)
    user.is_active = True
    await session.flush()
    return created
