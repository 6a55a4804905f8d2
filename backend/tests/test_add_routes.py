"""add_routes passes every argument of a route on: a parameter FastAPI adds to add_api_route
one day fails here, instead of being silently dropped from the app's routes."""

import inspect
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRouter

from app.main import ROUTERS, add_routes


def test_add_routes_passes_every_parameter_of_add_api_route(monkeypatch: pytest.MonkeyPatch):
    app = FastAPI()
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        app.router, "add_api_route", lambda path, endpoint, **kwargs: calls.append(kwargs)
    )

    add_routes(app, *ROUTERS)

    accepted = set(inspect.signature(APIRouter.add_api_route).parameters) - {
        "self",
        "path",
        "endpoint",
    }
    assert calls
    for passed in calls:
        assert set(passed) == accepted


def test_each_route_keeps_what_its_router_declared():
    app = FastAPI()
    add_routes(app, *ROUTERS)
    declared = [route for router in ROUTERS for route in router.routes]
    served = {(route.path, frozenset(route.methods)): route for route in app.router.routes}

    compared = ("status_code", "response_model", "responses", "dependencies", "tags", "name")
    for route in declared:
        copy = served[(route.path, frozenset(route.methods))]
        assert {name: getattr(copy, name) for name in compared} == {
            name: getattr(route, name) for name in compared
        }
