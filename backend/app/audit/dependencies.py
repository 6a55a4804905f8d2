"""Who may read the audit log."""

from typing import Annotated

from app.auth.dependencies import require_permission
from app.auth.schemas import Principal

AuditReader = Annotated[Principal, require_permission("read_audit")]
