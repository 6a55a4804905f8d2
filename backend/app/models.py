"""Every model, imported once so that Base.metadata knows all tables (Alembic, tests)."""

from app.articles.models import Article
from app.audit_log.models import AuditEvent
from app.auth.models import (
    AuthSession,
    LoginThrottle,
    OneTimeToken,
    Permission,
    PersonalAccessToken,
    RefreshToken,
    Role,
    ServiceAccount,
    User,
    personal_access_token_scopes,
    role_permissions,
    user_roles,
)
from app.core.orm import Base

__all__ = [
    "Article",
    "AuditEvent",
    "AuthSession",
    "Base",
    "LoginThrottle",
    "OneTimeToken",
    "Permission",
    "PersonalAccessToken",
    "RefreshToken",
    "Role",
    "ServiceAccount",
    "User",
    "personal_access_token_scopes",
    "role_permissions",
    "user_roles",
]
