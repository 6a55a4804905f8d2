"""The policy against the database: each role's permissions, the start-up check that every
permission a route asks for exists, and the explanation of one caller's decision on one route."""

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from starlette.routing import BaseRoute, Match

from app.auth.models import Permission, Role, User
from app.authz.exceptions import RouteNotFound
from app.authz.policy import Decision, RoutePolicy, decide, required_permissions, route_policies
from app.core.config import SettingsError
from app.core.database import Database
from app.users.exceptions import UserNotFound


async def role_permissions(session: AsyncSession) -> dict[str, frozenset[str]]:
    """Each role's permission names, as the database holds them now."""
    roles = await session.scalars(select(Role).options(selectinload(Role.permissions)))
    return {role.name: frozenset(p.name for p in role.permissions) for role in roles}


async def check_policy(database: Database, routes: Sequence[BaseRoute]) -> None:
    """Refuse to start when a route asks for a permission the database does not know: a typo
    would otherwise be a 403 for everyone, found by nobody."""
    async with database.sessionmaker() as session:
        known = set(await session.scalars(select(Permission.name)))
    unknown = sorted(required_permissions(route_policies(routes)) - known)
    if unknown:
        raise SettingsError(
            "py-auth cannot start:\n  routes require permissions the database does not know: "
            f"{', '.join(unknown)} (a migration adds a permission; see docs/authorization.md)."
        )


@dataclass(frozen=True, slots=True)
class Explanation:
    user_id: int
    route: RoutePolicy
    decision: Decision
    held: list[str]
    missing: list[str]
    reason: str


async def explain(
    session: AsyncSession, routes: Sequence[BaseRoute], *, user_id: int, method: str, path: str
) -> Explanation:
    """Why this user would be allowed or refused this method and path, by the rule the
    route's dependencies enforce."""
    route = _route_for(routes, method.upper(), path)
    user = await session.scalar(
        select(User)
        .options(selectinload(User.roles).selectinload(Role.permissions))
        .where(User.id == user_id)
    )
    if user is None:
        raise UserNotFound()
    permissions = frozenset(p.name for role in user.roles for p in role.permissions)
    required = list(route.permissions)
    if route.ownership is not None:
        required.append(route.ownership.any)
    held = [name for name in required if name in permissions]
    if not user.is_active:
        decision, reason = Decision.DENIED, "The account is deactivated: every token is refused."
        missing: list[str] = []
    else:
        decision = decide(route, permissions) if route.authenticated else Decision.ALLOWED
        missing = [name for name in route.permissions if name not in permissions]
        reason = _reason(route, decision, missing)
    return Explanation(user_id, route, decision, held, missing, reason)


def _reason(route: RoutePolicy, decision: Decision, missing: list[str]) -> str:
    if not route.authenticated:
        return "The route is open to anyone."
    if decision is Decision.DENIED:
        return f"Missing permission: {', '.join(missing)}."
    if decision is Decision.OWN_ONLY and route.ownership is not None:
        return f"Allowed on the user's own objects; someone else's need {route.ownership.any}."
    if not route.permissions:
        return "Any signed-in, active user may call it."
    return "The user holds every permission the route requires."


def _route_for(routes: Sequence[BaseRoute], method: str, path: str) -> RoutePolicy:
    """The policy of the route that serves this method and path; a route that is not part of
    the API (the OpenAPI document, the docs, the console's files) is open to anyone."""
    path = path.split("?", 1)[0]
    policies = {policy.key: policy for policy in route_policies(routes)}
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.FULL:
            continue
        if isinstance(route, APIRoute):
            return policies[f"{method} {route.path_format}"]
        template = str(getattr(route, "path_format", None) or getattr(route, "path", path))
        return RoutePolicy(method, template, False, (), None)
    raise RouteNotFound(method, path)
