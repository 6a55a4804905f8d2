"""Articles: the demo resource that permissions guard."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.clock import utcnow
from app.core.orm import Base


class Article(Base):
    __tablename__ = "articles"
    # Serves the newest-first listing: ORDER BY created_at DESC, id DESC LIMIT n OFFSET m.
    __table_args__ = (Index("ix_articles_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Kept when the author is deleted: the article stays, its author shows as deleted.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    author: Mapped[User | None] = relationship(lazy="raise")
