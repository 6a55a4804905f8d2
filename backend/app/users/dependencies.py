"""Who may do what with users."""

from typing import Annotated

from app.auth.dependencies import require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal

UserReader = Annotated[Principal, require_permission(Perm.READ_USER)]
# Other users' emails and sessions (IP addresses, user agents): administrators by default.
PrivateUserReader = Annotated[Principal, require_permission(Perm.READ_USER, Perm.READ_USER_PRIVATE)]
UserCreator = Annotated[Principal, require_permission(Perm.CREATE_USER)]
UserEditor = Annotated[Principal, require_permission(Perm.UPDATE_USER)]
UserDeleter = Annotated[Principal, require_permission(Perm.DELETE_USER)]
