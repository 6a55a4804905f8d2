"""Deny by default: every route needs an authenticated caller unless it is listed here as
public, and the OpenAPI document says what each protected operation requires."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from app.auth.dependencies import RouteRequirements, route_requirements
from app.core.database import get_session
from app.main import create_app
from tests.helpers import make_settings

ANY_METHOD = "*"

# Each entry is a decision: this route answers callers who have not logged in.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),  # the refresh token in the body is the credential
        ("POST", "/auth/revoke"),  # RFC 7009: the token in the body is the credential
        # Recovery: the mailed token in the body is the credential, or nothing is told.
        ("POST", "/auth/forgot-password"),
        ("POST", "/auth/reset-password"),
        ("POST", "/auth/request-verify-token"),
        ("POST", "/auth/verify"),
        ("POST", "/auth/accept-invitation"),
        ("GET", "/metrics"),  # for Prometheus: METRICS_TOKEN, not a user (404 until it is set)
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/ui"),  # redirects to /ui/
        ("GET", "/redoc"),
        (ANY_METHOD, "/static/docs"),  # the docs' scripts and styles
        (ANY_METHOD, "/ui"),  # the web console's static files; its data comes from the API
        ("GET", "/"),  # redirects to /ui/
    }
)


def operations(app: FastAPI) -> Iterator[tuple[str, str, bool, tuple[str, ...]]]:
    """(method, path, authenticated, permissions) of every route, routers' routes included.

    `app.routes` lists an included router as one entry, so walking it alone would see none of
    the API's routes: iter_route_contexts flattens them, with their prefixes applied.
    """
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        requirements = (
            route_requirements(dependant) if dependant is not None else RouteRequirements(False, ())
        )
        authenticated, permissions = requirements.authenticated, requirements.permissions
        if isinstance(context.original_route, Mount):
            yield ANY_METHOD, context.path or "", authenticated, permissions
            continue
        for method in sorted(context.methods or {ANY_METHOD}):
            if method != "HEAD":
                yield method, context.path_format or "", authenticated, permissions


def unprotected(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, path)
        for method, path, authenticated, _ in operations(app)
        if not authenticated and (method, path) not in PUBLIC_ROUTES
    }


def schema_operations(app: FastAPI) -> Iterator[tuple[str, str, bool, tuple[str, ...]]]:
    """Like `operations`, for the API routes shown in the OpenAPI document."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            requirements = route_requirements(context.dependant)
            authenticated, permissions = requirements.authenticated, requirements.permissions
            for method in sorted(context.methods or ()):
                yield method, context.path_format, authenticated, permissions


@pytest.fixture
async def extended_app(database_url: str) -> AsyncIterator[FastAPI]:
    """A fresh app with two routes someone forgot to protect, one of them in a router."""
    application = create_app(make_settings(database_url))
    router = APIRouter(prefix="/extra")

    @router.get("/forgotten")
    async def forgotten_in_router() -> None: ...

    @application.post("/forgotten")
    async def forgotten_on_app() -> None: ...

    application.include_router(router)
    yield application
    await application.state.database.dispose()


async def test_the_walk_sees_the_routes_of_included_routers(app):
    seen = {(method, path) for method, path, _, _ in operations(app)}

    assert {("POST", "/articles"), ("DELETE", "/roles/{name}"), ("GET", "/health")} <= seen


async def test_every_route_requires_authentication_unless_listed_public(app):
    assert unprotected(app) == set()


async def test_every_public_route_exists_and_needs_no_authentication(app):
    public = {(method, path) for method, path, auth, _ in operations(app) if not auth}

    assert PUBLIC_ROUTES - public == set()


async def test_the_check_catches_unprotected_routes(app, extended_app):
    caught = unprotected(extended_app) - unprotected(app)

    assert caught == {("POST", "/forgotten"), ("GET", "/extra/forgotten")}


async def test_permission_routes_are_seen_as_authenticated(app):
    for method, path, authenticated, permissions in operations(app):
        if permissions:
            assert authenticated, (method, path)


async def test_protected_operations_document_401(client, app):
    paths = (await client.get("/openapi.json")).json()["paths"]

    missing = [
        f"{method} {path}"
        for method, path, authenticated, _ in schema_operations(app)
        if authenticated and "401" not in paths[path][method.lower()]["responses"]
    ]

    assert missing == []


async def test_permission_operations_document_403_and_their_permissions(client, app):
    paths = (await client.get("/openapi.json")).json()["paths"]

    wrong = {}
    for method, path, _, permissions in schema_operations(app):
        operation = paths[path][method.lower()]
        if permissions and (
            "403" not in operation["responses"]
            or operation.get("x-required-permissions") != list(permissions)
        ):
            wrong[f"{method} {path}"] = operation.get("x-required-permissions")

    assert wrong == {}


async def test_public_operations_claim_no_permission(client, app):
    paths = (await client.get("/openapi.json")).json()["paths"]

    claimed = [
        f"{method} {path}"
        for method, path, authenticated, _ in schema_operations(app)
        if not authenticated and "x-required-permissions" in paths[path][method.lower()]
    ]

    assert claimed == []


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


async def test_every_schema_reference_resolves(client):
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]

    dangling = {
        ref for ref in _refs(document) if ref.removeprefix("#/components/schemas/") not in schemas
    }

    assert dangling == set()


def _reads_through_the_session(dependant: Dependant) -> bool:
    """Whether a dependency runs a query of the request's session before the route: one
    that depends on the session, as opposed to the session itself (which connects lazily)."""
    return any(
        sub.call is get_session or _reads_through_the_session(sub) for sub in dependant.dependencies
    )


def _queries_before_permission_checks(routes: Any) -> list[str]:
    """The routes where a dependency queries the database before a permission check runs
    (FastAPI resolves a route's dependencies in the order they are declared)."""
    misordered = []
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        order = route.dependant.dependencies
        checks = [i for i, dep in enumerate(order) if hasattr(dep.call, "required_permissions")]
        readers = [i for i, dep in enumerate(order) if _reads_through_the_session(dep)]
        if checks and readers and min(readers) < max(checks):
            misordered.append(f"{sorted(context.methods or ())} {context.path_format}")
    return misordered


async def test_permission_checks_come_before_dependencies_that_query_the_database(app):
    """A refusal is audited in a transaction of its own. On SQLite, a dependency that had
    already queried through the request's session would hold the write lock that transaction
    waits for: the refusal would be a 503 and its record lost."""
    assert _queries_before_permission_checks(app.routes) == []


def test_the_order_check_reports_a_query_before_a_permission():
    from app.articles.dependencies import ArticleCreator, ArticleDep

    router = APIRouter()

    @router.patch("/wrong-order/{article_id}")
    async def wrong_order(article: ArticleDep, _: ArticleCreator) -> None: ...

    assert _queries_before_permission_checks(router.routes) == [
        "['PATCH'] /wrong-order/{article_id}"
    ]
