"""One error type, one JSON shape: {"detail": str, "code": str, ...}.

Every error the API returns is an ``AppError`` subclass (or is turned into one's
shape by the handlers below), so clients can rely on ``code`` never changing.
"""

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("app.errors")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    detail: str
    code: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    errors: list[FieldError]


class AppError(Exception):
    """Base of every error the API returns on purpose."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    detail: ClassVar[str] = "Bad request."
    headers: ClassVar[Mapping[str, str] | None] = None
    # Most errors undo the request's writes. Some outcomes are refusals whose record must
    # survive (a revoked token family, a counted failed login): those set this to True.
    persist_changes: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.message = detail or self.detail
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.extra}

    def response_headers(self) -> Mapping[str, str] | None:
        return self.headers


REALM = "py-auth"
_NOT_CHALLENGE_TEXT = re.compile(r"[^\x20\x21\x23-\x5B\x5D-\x7E]")


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"
    detail = "Not authenticated."
    headers = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}


class InvalidToken(NotAuthenticated):
    """A bearer token that was presented and refused (RFC 6750 §3.1: error="invalid_token")."""

    code = "invalid_token"
    detail = "The access token is invalid."

    def response_headers(self) -> Mapping[str, str]:
        # RFC 6750 §3: error_description is printable ASCII without '"' and '\\'.
        description = _NOT_CHALLENGE_TEXT.sub("'", self.message)
        return {
            "WWW-Authenticate": (
                f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'
            )
        }


class TokenExpired(InvalidToken):
    code = "token_expired"
    detail = "The access token has expired."


class PermissionDenied(AppError):
    status_code = 403
    code = "permission_denied"
    detail = "You do not have permission to do this."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    detail = "Not found."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    detail = "The request conflicts with the current state."


class RequestInvalid(AppError):
    """The request is malformed; ``errors`` says where, in pydantic's {loc, msg, type} shape.

    Every 422 of the API is one of these: the framework's validation errors, and the checks
    the schemas cannot make (an unknown role, a password the policy refuses, a repeated query
    parameter) through ``at``.
    """

    status_code = 422
    code = "validation_error"
    detail = "The request is not valid."

    def __init__(self, errors: Sequence[Mapping[str, Any]], detail: str | None = None) -> None:
        super().__init__(
            detail,
            errors=[
                {
                    "loc": list(error.get("loc", ())),
                    "msg": error.get("msg", ""),
                    "type": error.get("type", ""),
                }
                for error in errors
            ],
        )

    @classmethod
    def at(cls, loc: Sequence[str | int], reason: str, error_type: str) -> "RequestInvalid":
        """One error at one place, whose reason is also the detail."""
        return cls([{"loc": loc, "msg": reason, "type": error_type}], reason)

    @classmethod
    def missing(cls, *loc: str) -> "RequestInvalid":
        """A required field left out, as pydantic says it."""
        return cls([{"loc": loc, "msg": "Field required", "type": "missing"}])


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    detail = "Unsupported content type."


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    detail = "The service is temporarily unavailable; try again shortly."


class MethodNotAllowed(AppError):
    status_code = 405
    code = "method_not_allowed"
    detail = "Method Not Allowed"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    detail = "The request body is too large."


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many requests; try again later."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    def response_headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InternalError(AppError):
    status_code = 500
    code = "internal_error"
    detail = "Internal server error."


# The code of an error the framework raises itself, by its status: each code is named once,
# by its class above.
_FRAMEWORK_CODES = {
    error.status_code: error.code
    for error in (
        AppError,
        NotAuthenticated,
        PermissionDenied,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        ServiceUnavailable,
    )
}

# Database errors that mean "the database cannot be reached right now", not a bug.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError, TimeoutError)
# SQLSTATEs of text that PostgreSQL cannot store: NUL (22021) and characters outside the
# database's encoding (22P05). The schemas refuse NUL first; this catches any field they miss.
UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
# SQLSTATE classes and codes of a database that is away or overwhelmed, not of a bug: lost
# connection (08), a statement cancelled by statement_timeout (57014), shutting down or
# starting up (57P01-57P03), out of resources (53).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57014", "57P01", "57P02", "57P03", "53")


def error_response(
    status_code: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the errors a route can return."""
    return {
        status: {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def app_error_response(error: AppError) -> JSONResponse:
    """The response of one of our errors, wherever it is answered (a handler, the middleware)."""
    return error_response(error.status_code, error.body(), error.response_headers())


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _FRAMEWORK_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, {"detail": detail, "code": code}, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return await _app_error(request, RequestInvalid(exc.errors()))


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", type(exc).__name__)
    return error_response(503, ServiceUnavailable().body())


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A lost connection or an unavailable database is a 503; text the database refuses is
    the client's mistake (422); any other database error is a bug (500)."""
    assert isinstance(exc, DBAPIError)
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    # connection_invalidated: the driver lost the connection mid-statement (a COMMIT whose
    # answer never came, say); whether it was applied is unknown, and the client may retry.
    if exc.connection_invalidated or sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return await _database_unavailable(request, exc)
    if sqlstate not in UNSTORABLE_TEXT:
        raise exc  # logged with its traceback by the middleware, answered with a 500
    reason = "Text must not contain NUL (U+0000) or characters the database cannot store."
    return await _app_error(request, RequestInvalid.at([], reason, "string_unstorable"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    for exc_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exc_type, _database_unavailable)
