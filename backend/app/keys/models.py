"""The signing keys, with the lifecycle of each as timestamps (app.core.signing_keys)."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.orm import Base
from app.core.signing_keys import KeyTimes


class SigningKeyRow(Base):
    """One signing key. ``private_key`` is sealed (app.core.sealing) with the context
    ``signing_keys:<kid>``, so it opens in this row only."""

    __tablename__ = "signing_keys"

    # RFC 7638 thumbprint of the public key (43 characters for SHA-256).
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[str] = mapped_column(Text)  # JSON: the public members only
    private_key: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    signs_from: Mapped[datetime]
    signs_until: Mapped[datetime | None]
    verifies_until: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]

    @property
    def times(self) -> KeyTimes:
        return KeyTimes(
            published_at=self.published_at,
            signs_from=self.signs_from,
            signs_until=self.signs_until,
            verifies_until=self.verifies_until,
            retired_at=self.retired_at,
        )
