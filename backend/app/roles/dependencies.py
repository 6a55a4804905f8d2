"""Who may manage roles."""

from typing import Annotated

from app.auth.dependencies import require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal

RoleManager = Annotated[Principal, require_permission(Perm.MANAGE_ROLES)]
