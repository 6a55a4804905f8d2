"""Request and response shapes of authentication, and the loaded caller."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from app.auth.models import AuthSession
from app.auth.passwords import PASSWORD_MAX_LENGTH
from app.core.types import normalize_email

# Normalized before the syntax check (so a full-width domain is checked as the address it
# names) and after it (email-validator's own normalization is then folded the same way).
Email = Annotated[
    EmailStr,
    BeforeValidator(lambda value: normalize_email(value) if isinstance(value, str) else value),
    Field(max_length=320),
    AfterValidator(normalize_email),
]
# Only the length is checked here (so a 10 kB "password" is never hashed); the policy is
# checked by the service, with the settings' minimum length.
Password = Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH)]
# PostgreSQL text cannot hold NUL (U+0000): refuse it with a 422 on every back end, before
# the database refuses it with an error. Patterns are in the OpenAPI document for clients.
NO_NUL = r"^[^\x00]*$"
FullName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class StrictModel(BaseModel):
    # Unknown fields are refused: no way to slip `roles` or `is_active` into a request.
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(StrictModel):
    email: Email
    password: Password
    full_name: FullName | None = None


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


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request, with roles and permissions as the database holds them now."""

    id: int
    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    roles: tuple[str, ...]
    permissions: frozenset[str]
    session_id: uuid.UUID | None = None
