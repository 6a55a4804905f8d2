"""Request and response shapes of authentication, the loaded caller, and a user as the API
shows one (registration returns it; user administration too)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from app.auth.models import AuthSession, User
from app.auth.passwords import PASSWORD_MAX_LENGTH
from app.auth.permissions import Perm
from app.core.schemas import NO_NUL, Email, FullName, StrictModel

# Only the length is checked here (so a 10 kB "password" is never hashed); the policy is
# checked by the service, with the settings' minimum length.
Password = Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class RegisterRequest(StrictModel):
    email: Email
    password: Password
    full_name: FullName | None = None


class ForgotPasswordRequest(StrictModel):
    email: Email


# A TOTP code is 6 digits; anything else up to this length is a wrong code (counted), longer
# is malformed. A recovery code is read off paper: dashes and spaces are ignored.
TotpCode = Annotated[str, Field(min_length=1, max_length=16, examples=["123456"])]
RecoveryCodeText = Annotated[str, Field(min_length=1, max_length=32, examples=["abcde-fghjk"])]


class SecondFactorFields(StrictModel):
    """At most one of a TOTP code and a recovery code."""

    code: TotpCode | None = None
    recovery_code: RecoveryCodeText | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> Self:
        if self.code is not None and self.recovery_code is not None:
            raise ValueError("send either code or recovery_code, not both")
        return self

    @property
    def has_factor(self) -> bool:
        return self.code is not None or self.recovery_code is not None


class SecondFactorRequest(SecondFactorFields):
    """Exactly one of a TOTP code and a recovery code."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if not self.has_factor:
            raise ValueError("send code (from the authenticator) or recovery_code")
        return self


class ResetPasswordRequest(SecondFactorFields):
    """With a code (or a recovery code) when the account has two-step verification."""

    token: OpaqueToken
    password: Password


class MfaVerifyRequest(SecondFactorRequest):
    mfa_token: OpaqueToken


class ReauthenticateRequest(SecondFactorFields):
    """The password, and a code when the account has two-step verification."""

    password: Password


class TotpConfirmRequest(StrictModel):
    code: TotpCode


class MfaResetRequest(StrictModel):
    reason: Annotated[str, Field(min_length=3, max_length=500, pattern=NO_NUL)]


class TotpEnrollment(BaseModel):
    secret: str = Field(description="Base32; for typing into an app that cannot scan.")
    otpauth_uri: str = Field(description="The otpauth:// URI the QR code holds.")
    qr_svg: str = Field(description="The QR code, an SVG document.")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="Shown once: each signs in once in place of a code. Store them safely."
    )


class MfaStatusRead(BaseModel):
    enabled: bool
    enabled_at: datetime | None
    pending: bool = Field(description="An enrollment waits for its confirming code.")
    recovery_codes_left: int
    methods: list[str] = Field(description="What the second step of a sign-in accepts.")


class MfaRequiredBody(BaseModel):
    detail: str
    code: Literal["mfa_required"]
    error: Literal["mfa_required"]
    mfa_token: str | None = Field(
        default=None, description="At login: names the sign-in for POST /auth/mfa/verify."
    )
    methods: list[str]


class AccessTokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")


class MailedTokenRequest(StrictModel):
    """A token from a mailed link (the console's page posts it)."""

    token: OpaqueToken


class AcceptInvitationRequest(StrictModel):
    token: OpaqueToken
    password: Password
    full_name: FullName | None = None


class Accepted(BaseModel):
    """The answer to a request whose outcome is told by mail, if at all: the same whatever
    the address (so it tells nobody which addresses have accounts)."""

    detail: str


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str | None = Field(
        default=None,
        description="Absent for browser clients (X-Client: browser): it is an HttpOnly cookie.",
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")


class RefreshRequest(StrictModel):
    refresh_token: OpaqueToken


class PasswordChangeRequest(StrictModel):
    current_password: Password
    new_password: Password


class SessionRead(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    expires_at: datetime
    current: bool = Field(description="The session the calling access token belongs to.")

    @classmethod
    def from_session(cls, auth_session: AuthSession, *, current_id: uuid.UUID | None) -> Self:
        return cls(
            id=auth_session.id,
            created_at=auth_session.created_at,
            last_used_at=auth_session.last_used_at,
            ip=auth_session.ip,
            user_agent=auth_session.user_agent,
            expires_at=auth_session.expires_at,
            current=auth_session.id == current_id,
        )


class SessionList(BaseModel):
    items: list[SessionRead]


# How the caller of a request authenticated: an access token of a login ("session"), a
# personal access token, or an access token of the client credentials grant (a service account).
Credential = Literal["session", "personal_access_token", "client_credentials"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request, with roles and permissions as the database holds them now.

    For a personal access token, ``permissions`` are the token's scopes that the user still
    holds, and ``token_id`` and ``token_prefix`` name the token."""

    id: int
    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    roles: tuple[str, ...]
    permissions: frozenset[str]
    session_id: uuid.UUID | None = None
    email_verified: bool = False
    mfa_enabled: bool = False
    # When and how (RFC 8176) the user last proved who they are: from the access token.
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    credential: Credential = "session"
    token_id: int | None = None
    token_prefix: str | None = None


def may_act_on(caller: Principal, owner_id: int | None, any_permission: str) -> bool:
    """The one rule of "yours, or anyone's with a permission": the caller's own object, or
    anyone's with the permission that reaches every object. Articles use it (owned_or_any:
    update_article vs update_any_article), and so do users' private fields (below)."""
    return owner_id == caller.id or any_permission in caller.permissions


def may_see_private(viewer: Principal, user_id: int) -> bool:
    """Whether the viewer may see this user's email and sessions: their own, or anyone's with
    read_user_private (OWASP API3:2023, property-level authorization)."""
    return may_act_on(viewer, user_id, Perm.READ_USER_PRIVATE)


class UserRead(BaseModel):
    id: int
    email: str | None = Field(
        description="Shown to the user themselves and to callers holding `read_user_private`; "
        "null for everyone else (the directory shows who exists, not how to reach them)."
    )
    full_name: str | None
    is_active: bool
    created_at: datetime
    roles: list[str] = Field(description="Role names, sorted.")

    @classmethod
    def for_viewer(cls, user: User, viewer: Principal) -> "UserRead":
        """The user as this viewer may see them."""
        return cls.from_user(user, show_email=may_see_private(viewer, user.id))

    @classmethod
    def from_user(cls, user: User, *, show_email: bool = True) -> "UserRead":
        return cls(
            id=user.id,
            email=user.email if show_email else None,
            full_name=user.full_name,
            is_active=user.is_active,
            created_at=user.created_at,
            roles=sorted(role.name for role in user.roles),
        )
