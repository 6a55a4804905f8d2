"""Errors of the authorization API."""

from app.core.errors import RequestInvalid


class RouteNotFound(RequestInvalid):
    def __init__(self, method: str, path: str) -> None:
        reason = f"No route of the API serves {method} {path}."
        super().__init__(
            [{"loc": ["body", "path"], "msg": reason, "type": "unknown_route"}], reason
        )
