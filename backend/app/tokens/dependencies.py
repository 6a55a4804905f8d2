"""Who may do what with personal access tokens: the owner, logged in (never with a token);
administrators, logged in, for anyone's."""

from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import get_interactive_user, require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal

# A token never manages tokens: every route here needs a login.
LOGIN_REQUIRED = [Depends(get_interactive_user)]
TokenReader = Annotated[Principal, require_permission(Perm.READ_USER, Perm.READ_USER_PRIVATE)]
TokenRevoker = Annotated[Principal, require_permission(Perm.UPDATE_USER)]
