"""Personal access tokens: a user's long-lived bearer tokens for scripts, limited to scopes."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Permission
from app.core.clock import utcnow
from app.core.orm import Base

# A token's scopes: permission names, a subset of its user's permissions at creation. What it
# may do is its scopes and its user's permissions of the moment, both.
personal_access_token_scopes = Table(
    "personal_access_token_scopes",
    Base.metadata,
    Column(
        "token_id",
        ForeignKey("personal_access_tokens.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "permission_id",
        ForeignKey("permissions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class PersonalAccessToken(Base):
    """Only the token's SHA-256 is stored, and a display prefix (``pya_pat_`` and six
    characters) by which its owner and the audit log tell it from the others."""

    __tablename__ = "personal_access_tokens"
    __table_args__ = (Index("ix_personal_access_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Written at most once a minute (app.tokens.service.touch), not on every request.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    scopes: Mapped[list[Permission]] = relationship(
        secondary=personal_access_token_scopes, order_by=Permission.name, lazy="raise"
    )
