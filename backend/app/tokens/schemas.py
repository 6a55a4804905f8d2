"""Shapes of personal access tokens."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field

from app.auth.models import PersonalAccessToken
from app.core.schemas import NO_NUL, StrictModel
from app.roles.schemas import PermissionName

DEFAULT_LIFETIME_DAYS = 30
MAX_LIFETIME_DAYS = 365


class PersonalAccessTokenCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    scopes: list[PermissionName] = Field(
        max_length=50, description="Permission names, each one the caller holds (else 403)."
    )
    expires_in_days: int = Field(
        default=DEFAULT_LIFETIME_DAYS,
        ge=1,
        le=MAX_LIFETIME_DAYS,
        description="Days until the token expires: every token expires.",
    )


class PersonalAccessTokenRead(BaseModel):
    id: int
    name: str
    display_prefix: str = Field(description="The first characters of the token, to tell it.")
    scopes: list[str] = Field(description="Permission names, sorted.")
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")

    @classmethod
    def from_token(cls, token: PersonalAccessToken) -> Self:
        return cls(
            id=token.id,
            name=token.name,
            display_prefix=token.display_prefix,
            scopes=[permission.name for permission in token.scopes],
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
        )


class PersonalAccessTokenCreated(PersonalAccessTokenRead):
    token: str = Field(description="The token itself: shown this once, never again.")


class PersonalAccessTokenList(BaseModel):
    items: list[PersonalAccessTokenRead]
