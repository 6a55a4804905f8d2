"""Every model, imported once so that Base.metadata knows all tables (Alembic, tests)."""

from app.articles.models import Article
from app.auth.models import Permission, RefreshToken, Role, User, role_permissions, user_roles
from app.core.database import Base

__all__ = [
    "Article",
    "Base",
    "Permission",
    "RefreshToken",
    "Role",
    "User",
    "role_permissions",
    "user_roles",
]
