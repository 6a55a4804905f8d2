"""Errors of user administration."""

from app.auth.permissions import Perm
from app.core.errors import Conflict, NotFound, PermissionDenied, RequestInvalid


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


class TargetOutranksActor(PermissionDenied):
    """Nobody acts on a user who holds a permission they lack: otherwise whoever may edit
    users could lock out, rename or delete the administrators. The refusal is audited."""

    code = "target_outranks_actor"
    persist_changes = True

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"This user holds permissions you do not; missing: {', '.join(missing)}.",
            missing=missing,
        )


class PrivateFilterDenied(PermissionDenied):
    """Searching by email would tell a caller who may not see emails which ones exist."""

    persist_changes = True  # the refusal is audited

    def __init__(self) -> None:
        super().__init__(
            "Filtering by email needs the read_user_private permission.",
            missing=[Perm.READ_USER_PRIVATE],
        )


class UnknownRole(RequestInvalid):
    def __init__(self, names: list[str]) -> None:
        reason = f"Unknown role: {', '.join(names)}."
        super().__init__(
            [{"loc": ["body", "roles"], "msg": reason, "type": "unknown_role"}], reason
        )
