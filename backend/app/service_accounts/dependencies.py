"""Who may manage service accounts: administrators (manage_service_accounts), logged in."""

from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import get_interactive_user, require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal

LOGIN_REQUIRED = [Depends(get_interactive_user)]
ServiceAccountManager = Annotated[Principal, require_permission(Perm.MANAGE_SERVICE_ACCOUNTS)]
