"""Who may do what with users."""

from typing import Annotated

from app.auth.dependencies import require_permission
from app.auth.schemas import Principal

UserReader = Annotated[Principal, require_permission("read_user")]
UserEditor = Annotated[Principal, require_permission("update_user")]
UserDeleter = Annotated[Principal, require_permission("delete_user")]
