"""Errors of role administration."""

from app.core.errors import Conflict, NotFound, PermissionDenied, RequestInvalid


class RoleNotFound(NotFound):
    detail = "Role not found."


class RoleAlreadyExists(Conflict):
    detail = "A role with this name already exists."


class BuiltInRoleProtected(Conflict):
    detail = "Built-in roles (viewer, editor, admin) cannot be deleted."


class DefaultRoleProtected(Conflict):
    detail = "This role is DEFAULT_ROLE, given to every new account: it cannot be deleted."


class RoleInUse(Conflict):
    detail = "The role is still held by users: take it from them first."


class AdminRoleProtected(Conflict):
    detail = "The admin role keeps every permission."


class UnknownPermission(RequestInvalid):
    def __init__(self, names: list[str]) -> None:
        reason = f"Unknown permission: {', '.join(names)}."
        super().__init__(
            [{"loc": ["body", "permissions"], "msg": reason, "type": "unknown_permission"}], reason
        )


class PermissionGrantDenied(PermissionDenied):
    """Granting a permission one does not hold would be an escalation of privilege; removing
    one would let a role manager strip what they could never give back. The refusal is
    audited."""

    persist_changes = True

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"You can only grant or remove permissions you hold; missing: {', '.join(missing)}.",
            missing=missing,
        )
