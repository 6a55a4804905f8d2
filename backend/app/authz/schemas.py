"""The policy and explanations as the API shows them."""

from typing import Literal

from pydantic import BaseModel, Field

from app.authz.policy import Decision
from app.core.schemas import NO_NUL, StrictModel
from app.core.types import MAX_ID

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class OwnershipRead(BaseModel):
    own: str = Field(description="The permission that reaches the caller's own objects.")
    any: str = Field(description="The permission that reaches everyone's objects.")


class RoutePolicyRead(BaseModel):
    method: str
    path: str
    authenticated: bool = Field(description="Whether the route needs a signed-in caller.")
    recent_auth: bool = Field(
        description="Whether the caller must have signed in (or reauthenticated) within "
        "STEP_UP_MAX_AGE_SECONDS."
    )
    permissions: list[str] = Field(description="Every one of them is required.")
    ownership: OwnershipRead | None = Field(
        description="Set when the route acts on the caller's own objects only, unless they "
        "hold `ownership.any`."
    )


class PolicyRead(BaseModel):
    routes: list[RoutePolicyRead]
    roles: dict[str, list[str]] = Field(description="Each role's permissions, sorted.")
    matrix: dict[str, dict[str, Decision]] = Field(
        description='Each role\'s decision on each route that needs a permission ("GET /x").'
    )


class ExplainRequest(StrictModel):
    user_id: int = Field(ge=1, le=MAX_ID)
    method: Method
    path: str = Field(min_length=1, max_length=2048, pattern=NO_NUL, examples=["/articles/1"])


class ExplainRead(BaseModel):
    user_id: int
    method: str
    route: str = Field(description="The route template that serves the path.")
    decision: Decision
    required: list[str] = Field(description="Permissions the route requires.")
    held: list[str] = Field(
        description="Of those (and the ownership's `any`), what the user holds."
    )
    missing: list[str]
    ownership: OwnershipRead | None
    reason: str
