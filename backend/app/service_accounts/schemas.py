"""Shapes of service accounts."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field

from app.auth.models import ServiceAccount, User
from app.core.schemas import FullName, StrictModel
from app.roles.schemas import RoleName


class ServiceAccountCreate(StrictModel):
    name: FullName = Field(description="What the account is for; shown as its full name.")
    roles: list[RoleName] = Field(
        default_factory=list,
        max_length=50,
        description="Role names, each holding only permissions the caller holds.",
    )


class ServiceAccountRead(BaseModel):
    id: int = Field(description="The id of the account's user.")
    name: str | None
    client_id: str
    roles: list[str] = Field(description="Role names, sorted.")
    is_active: bool
    created_at: datetime
    secret_rotated_at: datetime

    @classmethod
    def from_account(cls, account: ServiceAccount, user: User) -> Self:
        return cls(
            id=user.id,
            name=user.full_name,
            client_id=account.client_id,
            roles=sorted(role.name for role in user.roles),
            is_active=user.is_active,
            created_at=account.created_at,
            secret_rotated_at=account.secret_rotated_at,
        )


class ServiceAccountCredentials(ServiceAccountRead):
    client_secret: str = Field(description="Shown this once, never again.")


class ServiceAccountList(BaseModel):
    items: list[ServiceAccountRead]
