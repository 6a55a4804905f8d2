"""Shapes of users as the API shows and accepts them."""

from pydantic import Field

from app.auth.schemas import Password, Principal, UserRead
from app.core.pagination import PageParams
from app.core.schemas import NO_NUL, Email, FullName, StrictModel
from app.roles.schemas import RoleName


class MeRead(UserRead):
    email: str
    email_verified: bool = Field(description="Whether the owner proved they read this address.")
    mfa_enabled: bool = Field(description="Whether signing in asks for a second factor.")
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
            email_verified=principal.email_verified,
            mfa_enabled=principal.mfa_enabled,
            roles=list(principal.roles),
            permissions=sorted(principal.permissions),
        )


class EmailChangeRequest(StrictModel):
    new_email: Email
    password: Password = Field(description="The current password.")


class InvitationCreate(StrictModel):
    email: Email
    roles: list[RoleName] = Field(
        default_factory=list, max_length=50, description="Role names; DEFAULT_ROLE when empty."
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


class UsersQuery(PageParams):
    """GET /users's query string: a page and its filters."""

    email: str | None = Field(
        default=None,
        max_length=320,
        pattern=NO_NUL,
        description="Email substring; needs `read_user_private` (else 403).",
    )
    role: str | None = Field(default=None, max_length=64, pattern=NO_NUL, description="Role name.")
