"""Shapes of users as the API shows and accepts them."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import User
from app.auth.schemas import Email, FullName, Password, Principal, StrictModel
from app.roles.schemas import RoleName

READ_USER_PRIVATE = "read_user_private"


def may_see_private(viewer: Principal, user_id: int) -> bool:
    """Whether the viewer may see this user's email and sessions: their own, or anyone's with
    read_user_private (OWASP API3:2023, property-level authorization)."""
    return viewer.id == user_id or READ_USER_PRIVATE in viewer.permissions


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


class MeRead(UserRead):
    email: str
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


class UserCreate(StrictModel):
    email: Email
    full_name: FullName | None = None
    roles: list[RoleName] | None = Field(
        default=None, max_length=50, description="Role names; DEFAULT_ROLE when left out."
    )
    password: Password = Field(description="The initial password, under the password policy.")


class UserUpdate(StrictModel):
    full_name: FullName | None = None
    is_active: bool | None = None
    roles: list[RoleName] | None = Field(default=None, max_length=50, description="Role names.")


class UsersFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str | None = None
    role: str | None = None
