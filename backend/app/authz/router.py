"""/authz: the policy as data, and why a user would be allowed or refused a route. Requires
manage_roles."""

from fastapi import APIRouter

from app.authz import service
from app.authz.dependencies import AppRoutes, PolicyReader
from app.authz.policy import RoutePolicy, decide, route_policies
from app.authz.schemas import (
    ExplainRead,
    ExplainRequest,
    OwnershipRead,
    PolicyRead,
    RoutePolicyRead,
)
from app.core.database import SessionDep
from app.core.errors import error_responses

router = APIRouter(prefix="/authz", tags=["authorization"])


def _ownership(route: RoutePolicy) -> OwnershipRead | None:
    if route.ownership is None:
        return None
    return OwnershipRead(own=route.ownership.own, any=route.ownership.any)


@router.get("/policy", response_model=PolicyRead)
async def read_policy(_: PolicyReader, routes: AppRoutes, session: SessionDep) -> PolicyRead:
    """Every route with what it requires, each role's permissions, and each role's decision on
    each route that needs a permission (what `docs/policy.md` shows)."""
    policies = route_policies(routes)
    roles = await service.role_permissions(session)
    return PolicyRead(
        routes=[
            RoutePolicyRead(
                method=route.method,
                path=route.path,
                authenticated=route.authenticated,
                recent_auth=route.recent_auth,
                permissions=list(route.permissions),
                ownership=_ownership(route),
            )
            for route in policies
        ],
        roles={name: sorted(permissions) for name, permissions in sorted(roles.items())},
        matrix={
            route.key: {name: decide(route, roles[name]) for name in sorted(roles)}
            for route in policies
            if route.permissions
        },
    )


@router.post("/explain", response_model=ExplainRead, responses=error_responses(404))
async def explain(
    body: ExplainRequest, _: PolicyReader, routes: AppRoutes, session: SessionDep
) -> ExplainRead:
    """Whether this user may call this method and path, and why: the permissions required,
    held and missing, decided by the same rule that the route's dependencies enforce."""
    explanation = await service.explain(
        session, routes, user_id=body.user_id, method=body.method, path=body.path
    )
    return ExplainRead(
        user_id=explanation.user_id,
        method=explanation.route.method,
        route=explanation.route.path,
        decision=explanation.decision,
        required=list(explanation.route.permissions),
        held=explanation.held,
        missing=explanation.missing,
        ownership=_ownership(explanation.route),
        reason=explanation.reason,
    )
