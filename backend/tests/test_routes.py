"""The app's routes are made anew from its routers (add_routes), not included: the app must
serve and document exactly what include_router would, and its dependency overrides must apply."""

from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.auth.dependencies import current_user
from app.auth.schemas import Principal
from app.core.clock import utcnow
from app.core.routing import literal_prefix_first
from app.main import ROUTERS, create_app
from tests.helpers import make_settings


def _openapi(app: FastAPI) -> dict[str, Any]:
    return get_openapi(title="t", version="1", routes=app.routes)


def test_the_app_documents_what_included_routers_would(app):
    included = FastAPI()
    for router in ROUTERS:
        included.include_router(router)

    assert _openapi(app) == _openapi(included)


def _declared() -> dict[Any, APIRoute]:
    return {route.endpoint: route for router in ROUTERS for route in router.routes}


def _served(app: FastAPI) -> list[APIRoute]:
    """The app's routes made from the routers (not those of the docs and the console)."""
    declared = _declared()
    return [
        route for route in app.routes if isinstance(route, APIRoute) and route.endpoint in declared
    ]


def test_every_route_of_every_router_is_served_once(app):
    served = [(route.path, frozenset(route.methods), route.endpoint) for route in _served(app)]
    declared = [
        (route.path, frozenset(route.methods), route.endpoint) for route in _declared().values()
    ]

    assert sorted(served, key=repr) == sorted(declared, key=repr)


def test_each_route_keeps_its_route_class_and_response_settings(app):
    declared = _declared()

    for route in _served(app):
        original = declared[route.endpoint]
        # The class that the router declared, with the prefix check of app.core.routing.
        assert type(route) is literal_prefix_first(type(original)), route.path
        assert isinstance(route, type(original)), route.path
        assert route.response_model_exclude_none == original.response_model_exclude_none
        assert route.status_code == original.status_code, route.path


async def test_the_apps_dependency_overrides_apply(settings):
    app = create_app(make_settings(settings.database_url))
    somebody = Principal(
        id=7,
        email="override@example.com",
        full_name=None,
        is_active=True,
        created_at=utcnow(),
        roles=(),
        permissions=frozenset(),
    )
    app.dependency_overrides[current_user] = lambda: somebody
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/users/me")  # no token: the override answers

    assert response.status_code == 200, response.text
    assert response.json()["email"] == "override@example.com"
    await app.state.database.dispose()
