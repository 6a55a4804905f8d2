"""Shapes every domain's requests share: strict bodies, text without NUL, names, emails."""

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field
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


def json_response(data: Mapping[str, Any]) -> Response:
    """Plain data (dicts, lists, str, int, bool, None, aware datetimes) sent as JSON by orjson,
    nothing validated or built on the way: for a page of many items, where a model per item
    costs more than the rest of the route (GET /articles). orjson writes what pydantic writes
    for the same values (compact, UTF-8, UTC as "Z", microseconds only when there are some) in
    a third of the time; the route's test compares the bytes with its response model's."""
    return Response(orjson.dumps(data, option=orjson.OPT_UTC_Z), media_type="application/json")
