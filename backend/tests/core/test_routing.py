"""Matching a request to its route: the literal prefix checked first, and the busiest routes
tried first, without changing which route answers."""

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from app.core.routing import literal_prefix_first, move_to_front
from app.main import HOT_PATHS, ROUTERS, create_app
from tests.helpers import make_settings


def scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def first_match(app: FastAPI, path: str, method: str = "GET") -> tuple[object, Match]:
    partial = None
    for route in app.router.routes:
        match, _ = route.matches(scope(path, method))
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL if partial else Match.NONE


@pytest.fixture(scope="module")
def apps():
    """The app, and the same routes in the order the routers declare them, as plain APIRoutes
    (Starlette's own matching, route after route)."""
    app = create_app(make_settings("sqlite+aiosqlite://"))
    plain = FastAPI()
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            plain.router.add_api_route(
                route.path, route.endpoint, methods=route.methods, response_model=None
            )
    return app, plain


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/users/me", "GET"),
        ("/users/me", "PATCH"),
        ("/users/me", "DELETE"),  # another method: a partial match, for the 405
        ("/users/7", "GET"),
        ("/users/me/sessions", "GET"),
        ("/articles", "GET"),
        ("/articles", "POST"),
        ("/articles/12", "DELETE"),
        ("/auth/refresh", "POST"),
        ("/health", "GET"),
        ("/no/such/route", "GET"),
        ("/users/", "GET"),
    ],
)
def test_the_same_route_answers_as_without_the_faster_matching(apps, path, method):
    app, plain = apps
    route, match = first_match(app, path, method)
    plain_route, plain_match = first_match(plain, path, method)

    assert match == plain_match
    assert getattr(route, "endpoint", None) == getattr(plain_route, "endpoint", None)


def test_the_busiest_routes_are_tried_first(apps):
    app, _ = apps

    first = [route.path for route in app.router.routes[: len(HOT_PATHS) + 2]]

    assert first[0] == HOT_PATHS[0]
    assert set(HOT_PATHS) <= set(first)


def test_a_route_does_not_move_ahead_of_one_that_would_match_its_path():
    app = FastAPI()
    route_class = literal_prefix_first(APIRoute)
    app.router.add_api_route("/users/{name}", lambda name: name, route_class_override=route_class)
    app.router.add_api_route("/users/me", lambda: "me", route_class_override=route_class)

    with pytest.raises(RuntimeError, match="would match it first"):
        move_to_front(app.router.routes, ["/users/me"])


def test_a_path_that_does_not_begin_with_the_literal_prefix_is_no_match():
    route = literal_prefix_first(APIRoute)("/articles/{article_id}", lambda article_id: None)

    assert route.matches(scope("/users/5"))[0] is Match.NONE
    assert route.matches(scope("/articles/5"))[0] is Match.FULL
