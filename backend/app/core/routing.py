"""Matching a request to its route without trying every route's pattern.

Starlette tries the routes one by one, in order, and FastAPI's APIRoute.matches is not cheap
(its route-context lookup, then the path's regular expression): with sixty routes, finding
/articles took longer than verifying the access token (BENCHMARKS.md). A route's path can only
match request paths that begin with its literal part (what comes before the first
`{parameter}`), so checking that prefix first answers "no" for almost every route in a string
comparison, and leaves the rest exactly as Starlette decides it: the order of the routes, the
first full match, a partial match (another method) for a 405.
"""

from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


class _LiteralPrefixFirst:
    """Mixed into an APIRoute class of a route added to the app's own router (add_routes)."""

    path: str
    literal_prefix: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.literal_prefix = self.path.split("{", 1)[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Behind the app's hot routes, every request misses them first: a miss is kept to
        # one string comparison (get_route_path is the path itself without a root path).
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        if not path.startswith(self.literal_prefix):
            return Match.NONE, {}
        return super().matches(scope)  # type: ignore[misc, no-any-return]


_PREFIX_FIRST: dict[type[APIRoute], type[APIRoute]] = {}


def literal_prefix_first(route_class: type[APIRoute]) -> type[APIRoute]:
    """``route_class`` that checks the literal prefix of its path before anything else."""
    made = _PREFIX_FIRST.get(route_class)
    if made is None:
        made = type(route_class.__name__, (_LiteralPrefixFirst, route_class), {})
        _PREFIX_FIRST[route_class] = made
    return made


def move_to_front(routes: list[BaseRoute], paths: Sequence[str]) -> None:
    """Put the routes of these paths (paths without parameters: the busiest of the service)
    first, in this order, so that their requests are matched before any other route is tried.

    Only where it changes no answer: a route moves ahead only if no route before it could
    match its path (a `{parameter}` route, a mount), else start-up fails, naming both."""
    chosen: list[BaseRoute] = []
    for path in paths:
        probe: Scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        for index, route in enumerate(routes):
            if getattr(route, "path", None) != path:
                continue
            for earlier in routes[:index]:
                if earlier not in chosen and earlier.matches({**probe})[0] is not Match.NONE:
                    raise RuntimeError(f"{path}: {earlier!r} would match it first; not moved")
            chosen.append(route)
    routes[:] = chosen + [route for route in routes if route not in chosen]
