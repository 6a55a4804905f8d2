"""Identity and access: users, roles, permissions, sessions and refresh tokens, personal access
tokens and service accounts."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Table, Uuid, func
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.clock import utcnow
from app.core.orm import Base
from app.core.types import normalize_email

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)

role_permissions = Table(
    "role_permissions",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "permission_id",
        ForeignKey("permissions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Permission(Base):
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")

    permissions: Mapped[list[Permission]] = relationship(
        secondary=role_permissions, order_by=Permission.name, lazy="raise"
    )


class User(Base):
    __tablename__ = "users"
    # SQLite would otherwise hand a deleted user's id to the next one, and with it the old
    # user's audit trail. (PostgreSQL sequences never go back.)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Moves on every change that must end sessions (password change, logout everywhere,
    # deactivation, an administrator ending them). A session is live only while it holds the
    # version its login read before checking the password, so a login that was checking the
    # old password while the change committed gets a session that never works.
    credentials_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the owner proved they read mail at this address (a verification, a reset, an
    # accepted invitation or a confirmed change); None until then, and again after a change.
    email_verified_at: Mapped[datetime | None]
    # A service account (OAuth2 client credentials, app.service_accounts): it has no usable
    # password, and its access tokens come from POST /auth/login with grant_type
    # client_credentials only.
    is_service_account: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, order_by=Role.name, lazy="raise")

    @validates("email")
    def _normalize_email(self, _key: str, email: str) -> str:
        return normalize_email(email)


class AuthSession(Base):
    """One login: the family of refresh tokens that descend from it.

    ``expires_at`` is fixed at login (rotation does not extend it); ``last_used_at`` moves
    with every refresh and drives the idle expiry.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
    # The user's credentials_version when the login began; see User.credentials_version.
    credentials_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the user last proved who they are in this session (login, second factor,
    # reauthentication) and how (RFC 8176 methods, space-separated: "pwd", "pwd otp",
    # "pwd mfa"): every access token of the session carries both as auth_time and amr.
    auth_time: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    amr: Mapped[str] = mapped_column(String(32), default="pwd", server_default="pwd")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))


class OneTimeToken(Base):
    """A token sent by mail for one purpose (reset, verify, email change, invitation), used at
    most once. Only its SHA-256 is stored; the token itself is only in the mail.

    ``email`` is the address it was sent to: a verification is good only while it is still the
    user's address, a change's new address, an invitation's invitee. ``user_id`` is None for an
    invitation (no account yet) and for a reset requested for an unknown address (so that known
    and unknown addresses cost the same work).
    """

    __tablename__ = "one_time_tokens"
    __table_args__ = (
        Index("ix_one_time_tokens_email_purpose_created_at", "email", "purpose", "created_at"),
        Index("ix_one_time_tokens_user_id_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    # An invitation's roles, granted when it is accepted.
    roles: Mapped[list[str] | None] = mapped_column(JSON)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins of one normalized email, known account or not (so both look alike)."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    failure_count: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    lockout_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]


class RefreshToken(Base):
    """One refresh token. Only its SHA-256 is stored; the token itself is shown once.

    The tokens of one login share a ``family_id``, the id of their session: rotation adds a
    token to the family, and reuse of a rotated token revokes the whole family.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class TotpCredential(Base):
    """A user's TOTP authenticator (RFC 6238). Pending until a first code confirms it.

    The secret is sealed at rest (app.core.sealing, bound to the user). ``last_used_step`` is
    the time step of the last code accepted: a code is accepted only for a later step, by one
    conditional UPDATE, so a code (or an older one) is never accepted twice.
    """

    __tablename__ = "totp_credentials"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    last_used_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator. Only a keyed hash is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class MfaChallenge(Base):
    """A login whose password was right, waiting for its second factor: what the opaque
    ``mfa_token`` (stored as its SHA-256) stands for, for a few minutes and a few attempts."""

    __tablename__ = "mfa_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The user's credentials_version read before the password was checked, as at login.
    credentials_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class ServiceAccount(Base):
    """The OAuth2 client of a service account (its user row holds the roles): a public
    ``client_id`` and the SHA-256 of its secret (256 random bits, shown once)."""

    __tablename__ = "service_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    # Written at most once a minute (app.auth.pat_caller), not on every request.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    scopes: Mapped[list[Permission]] = relationship(
        secondary=personal_access_token_scopes, order_by=Permission.name, lazy="raise"
    )
