"""Shapes every domain's requests share: strict bodies, text without NUL, names, emails."""

from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
)
from starlette.responses import Response

from app.core.types import normalize_email

# PostgreSQL text cannot hold NUL (U+0000): refuse it with a 422 on every back end, before
# the database refuses it with an error. Patterns are in the OpenAPI document for clients.
NO_NUL = r"^[^\x00]*$"
FullName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
# Normalized before the syntax check (so a full-width domain is checked as the address it
# names) and after it (email-validator's own normalization is then folded the same way).
Email = Annotated[
    EmailStr,
    BeforeValidator(lambda value: normalize_email(value) if isinstance(value, str) else value),
    Field(max_length=320),
    AfterValidator(normalize_email),
]


class StrictModel(BaseModel):
    # Unknown fields are refused: no way to slip `roles` or `is_active` into a request.
    model_config = ConfigDict(extra="forbid")


def model_response(model: BaseModel) -> Response:
    """A model the route has just built, sent as it is: FastAPI would validate it against the
    route's response model (the same model) and then serialize it, on every request. For the
    busiest routes (GET /users/me, GET /articles); the route still declares ``response_model``
    for the docs."""
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


T = TypeVar("T")


def json_response(adapter: TypeAdapter[T], value: T) -> Response:
    """Plain data sent through the adapter of its type, nothing validated or built on the way
    (the data come from our own database, typed by its columns): for a page of many items,
    where building a model per item costs more than the rest of the route."""
    return Response(adapter.dump_json(value), media_type="application/json")
