"""Errors of user administration."""

from app.core.errors import AppError, Conflict, NotFound, PermissionDenied


class UserNotFound(NotFound):
    detail = "User not found."


class LastAdminProtected(Conflict):
    detail = "This is the last active admin: grant admin to another active user first."


class RoleChangeDenied(PermissionDenied):
    """Granting or removing a role takes every permission the role holds: otherwise a user
    who may only edit users could make themselves admin. The refusal is audited."""

    persist_changes = True

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "You can only grant or remove roles whose permissions you hold; "
            f"missing: {', '.join(missing)}.",
            missing=missing,
        )


class UnknownRole(AppError):
    status_code = 422
    code = "validation_error"

    def __init__(self, names: list[str]) -> None:
        reason = f"Unknown role: {', '.join(names)}."
        super().__init__(
            reason, errors=[{"loc": ["body", "roles"], "msg": reason, "type": "unknown_role"}]
        )
