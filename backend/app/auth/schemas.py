"""Request and response shapes of authentication, and the loaded caller."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator
from pydantic_core import PydanticCustomError

from app.auth.passwords import PASSWORD_MAX_LENGTH, password_problem


def _normalize_email(email: str) -> str:
    return email.strip().lower()


Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_normalize_email)]
Password = Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH)]
FullName = Annotated[str, Field(min_length=1, max_length=200)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class StrictModel(BaseModel):
    # Unknown fields are refused: no way to slip `roles` or `is_active` into a request.
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(StrictModel):
    email: Email
    password: Password
    full_name: FullName | None = None

    @model_validator(mode="after")
    def _password_policy(self) -> Self:
        if (problem := password_problem(self.password, self.email)) is not None:
            raise PydanticCustomError("password_policy", problem)
        return self


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")


class RefreshRequest(StrictModel):
    refresh_token: OpaqueToken


class PasswordChangeRequest(StrictModel):
    current_password: Password
    new_password: Password

    @model_validator(mode="after")
    def _password_policy(self) -> Self:
        if (problem := password_problem(self.new_password)) is not None:
            raise PydanticCustomError("password_policy", problem)
        return self


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
    session_id: str | None = None
