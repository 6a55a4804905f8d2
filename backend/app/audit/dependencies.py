"""Who may read the audit log."""

from typing import Annotated

from app.auth.dependencies import require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal

AuditReader = Annotated[Principal, require_permission(Perm.READ_AUDIT)]
