"""Every model, imported once so that Base.metadata knows all tables (Alembic, tests)."""

from app.articles.models import Article
from app.audit_log.models import AuditEvent
from app.auth.models import (
    AuthSession,
    LoginThrottle,
    MfaChallenge,
    OneTimeToken,
    Permission,
    PersonalAccessToken,
    RecoveryCode,
    RefreshToken,
    Role,
    ServiceAccount,
    TotpCredential,
    User,
    personal_access_token_scopes,
    role_permissions,
    user_roles,
)
from app.core.orm import Base
from app.keys.models import SigningKeyRow

__all__ = [
    "Article",
    "AuditEvent",
    "AuthSession",
    "Base",
    "LoginThrottle",
    "MfaChallenge",
    "OneTimeToken",
    "Permission",
    "PersonalAccessToken",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "ServiceAccount",
    "SigningKeyRow",
    "TotpCredential",
    "User",
    "personal_access_token_scopes",
    "role_permissions",
    "user_roles",
]
