"""Who may do what with users."""

from typing import Annotated

from app.auth.dependencies import require_permission
from app.auth.schemas import Principal

UserReader = Annotated[Principal, require_permission("read_user")]
# Other users' emails and sessions (IP addresses, user agents): administrators by default.
PrivateUserReader = Annotated[Principal, require_permission("read_user", "read_user_private")]
UserCreator = Annotated[Principal, require_permission("create_user")]
UserEditor = Annotated[Principal, require_permission("update_user")]
UserDeleter = Annotated[Principal, require_permission("delete_user")]
