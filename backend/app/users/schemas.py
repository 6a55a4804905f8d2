"""Shapes of users as the API shows and accepts them."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import User
from app.auth.schemas import FullName, Principal, StrictModel
from app.roles.schemas import RoleName


class UserRead(BaseModel):
    id: int
    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    roles: list[str] = Field(description="Role names, sorted.")

    @classmethod
    def from_user(cls, user: User) -> "UserRead":
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            is_active=user.is_active,
            created_at=user.created_at,
            roles=sorted(role.name for role in user.roles),
        )


class MeRead(UserRead):
    permissions: list[str] = Field(
        description="Permission names, sorted: for shaping a UI; the API re-checks every call."
    )

    @classmethod
    def from_principal(cls, principal: Principal) -> "MeRead":
        return cls(
            id=principal.id,
            email=principal.email,
            full_name=principal.full_name,
            is_active=principal.is_active,
            created_at=principal.created_at,
            roles=list(principal.roles),
            permissions=sorted(principal.permissions),
        )


class MeUpdate(StrictModel):
    """The only field a user may change about themselves; anything else is a 422."""

    full_name: FullName | None


class UserUpdate(StrictModel):
    full_name: FullName | None = None
    is_active: bool | None = None
    roles: list[RoleName] | None = Field(default=None, max_length=50, description="Role names.")


class UsersFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str | None = None
    role: str | None = None
