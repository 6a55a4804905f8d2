"""Errors of user administration."""

from app.core.errors import AppError, Conflict, NotFound


class UserNotFound(NotFound):
    detail = "User not found."


class LastAdminProtected(Conflict):
    detail = "This is the last active admin: grant admin to another active user first."


class UnknownRole(AppError):
    status_code = 422
    code = "validation_error"

    def __init__(self, names: list[str]) -> None:
        reason = f"Unknown role: {', '.join(names)}."
        super().__init__(
            reason, errors=[{"loc": ["body", "roles"], "msg": reason, "type": "unknown_role"}]
        )
