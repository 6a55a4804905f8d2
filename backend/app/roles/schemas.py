"""Shapes of roles and permissions."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.core.schemas import NO_NUL, StrictModel

# Role and permission names share one shape; a name of another shape cannot exist.
NAME_PATTERN = r"^[a-z][a-z0-9_\-]*$"
RoleName = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
PermissionName = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
PermissionNames = Annotated[list[PermissionName], Field(max_length=100)]


class PermissionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str


class RoleRead(BaseModel):
    name: str
    description: str
    permissions: list[str] = Field(description="Permission names, sorted.")

    @classmethod
    def from_role(cls, role: Role) -> "RoleRead":
        return cls(
            name=role.name,
            description=role.description,
            permissions=sorted(permission.name for permission in role.permissions),
        )


class RoleCreate(StrictModel):
    name: RoleName
    description: Annotated[str, Field(max_length=255, pattern=NO_NUL)] = ""
    permissions: PermissionNames


class RolePermissionsUpdate(StrictModel):
    permissions: PermissionNames
