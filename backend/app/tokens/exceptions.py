"""Errors of personal access tokens."""

from app.core.errors import Conflict, NotFound, PermissionDenied, RequestInvalid


class TokenNotFound(NotFound):
    detail = "Token not found."


class ScopeNotHeld(PermissionDenied):
    """A token can do no more than its user: every scope must be a permission they hold."""

    code = "scope_not_held"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"A token's scopes must be permissions you hold; missing: {', '.join(missing)}.",
            missing=missing,
        )


class UnknownScope(RequestInvalid):
    def __init__(self, names: list[str]) -> None:
        reason = f"Unknown permission: {', '.join(names)}."
        super().__init__(
            [{"loc": ["body", "scopes"], "msg": reason, "type": "unknown_scope"}], reason
        )


class TooManyTokens(Conflict):
    code = "too_many_tokens"

    def __init__(self, limit: int) -> None:
        super().__init__(f"At most {limit} live tokens a user: revoke one first.", limit=limit)
