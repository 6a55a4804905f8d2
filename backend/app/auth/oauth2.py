"""The OAuth2 wire protocol of the token endpoints, as client libraries expect it: RFC 6749
form grants (password, refresh_token), RFC 6749 §5.2 `error` fields in error bodies, and the
token response (for a browser client, the refresh token goes in a cookie instead)."""

import base64
import binascii
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import Form, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import browser, sessions
from app.auth.exceptions import ClientAuthenticatedTwice, InvalidClient, UnsupportedGrantType
from app.auth.schemas import Password, RefreshRequest, TokenResponse
from app.core.app_state import SettingsDep
from app.core.config import Settings
from app.core.errors import AppError, RequestInvalid, UnsupportedMediaType
from app.core.schemas import NO_NUL

# RFC 6749 §5.2 error of each of our codes, for OAuth2 client libraries.
OAUTH2_ERRORS = {
    "invalid_credentials": "invalid_grant",
    "invalid_token": "invalid_grant",
    "token_expired": "invalid_grant",
    "token_revoked": "invalid_grant",
    "email_not_verified": "invalid_grant",
    "invalid_mfa_token": "invalid_grant",
    "invalid_mfa_code": "invalid_grant",
    "unsupported_grant_type": "unsupported_grant_type",
    "invalid_client": "invalid_client",
}


class OAuth2ErrorRoute(APIRoute):
    """Adds RFC 6749 §5.2 `error` and `error_description` to every error of the route,
    beside our own `detail` and `code`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_oauth2_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                error: AppError = RequestInvalid(exc.errors())
            except AppError as exc:
                error = exc
            except StarletteHTTPException as exc:
                if exc.status_code != status.HTTP_400_BAD_REQUEST:
                    raise
                # The framework could not read the body (a broken form): our 400 bad_request,
                # which AppError itself is, and RFC 6749's invalid_request.
                error = AppError(str(exc.detail))
            error.extra.setdefault("error", OAUTH2_ERRORS.get(error.code, "invalid_request"))
            error.extra.setdefault("error_description", error.message)
            raise error

        return with_oauth2_errors


PASSWORD_GRANT = "password"
CLIENT_CREDENTIALS_GRANT = "client_credentials"


class LoginForm:
    """The token endpoint's grants, form-encoded: password (RFC 6749 §4.3; username is the
    email), the default, or client_credentials (§4.4; a service account, whose credentials come
    in HTTP Basic or as client_id and client_secret here). `scope` is accepted and ignored, and
    so is `client_id` in the password grant."""

    def __init__(
        self,
        username: Annotated[str | None, Form(max_length=320, pattern=NO_NUL)] = None,
        password: Annotated[Password | None, Form()] = None,
        grant_type: Annotated[str | None, Form(max_length=64)] = None,
        scope: Annotated[str, Form(max_length=1000)] = "",
        client_id: Annotated[str | None, Form(max_length=200, pattern=NO_NUL)] = None,
        client_secret: Annotated[str | None, Form(max_length=200, pattern=NO_NUL)] = None,
    ) -> None:
        self.grant_type = grant_type or PASSWORD_GRANT
        if self.grant_type not in (PASSWORD_GRANT, CLIENT_CREDENTIALS_GRANT):
            raise UnsupportedGrantType()
        if self.grant_type == PASSWORD_GRANT:
            missing = [
                name
                for name, value in (("username", username), ("password", password))
                if value is None
            ]
            if missing:
                raise RequestInvalid(
                    [
                        {"loc": ["body", name], "msg": "Field required", "type": "missing"}
                        for name in missing
                    ]
                )
        self.username = username or ""
        self.password = password or ""
        self.client_id = client_id
        self.client_secret = client_secret


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str


def basic_credentials(request: Request) -> ClientCredentials | None:
    """The client's credentials from HTTP Basic, if that is the scheme of the Authorization
    header (RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64); a
    broken header is a 401 invalid_client."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient() from None
    user, colon, secret = decoded.partition(":")
    client_id, client_secret = unquote_plus(user), unquote_plus(secret)
    if not colon or "\x00" in client_id:
        raise InvalidClient()  # no client has that id (NUL cannot even be stored)
    return ClientCredentials(client_id, client_secret)


def client_credentials(request: Request, form: LoginForm) -> ClientCredentials:
    """The client's credentials: HTTP Basic (client_secret_basic) or the form's client_id and
    client_secret (client_secret_post). Both at once is a 400 invalid_request; none, a 401
    invalid_client."""
    basic = basic_credentials(request)
    if basic is not None:
        if form.client_secret is not None:
            raise ClientAuthenticatedTwice()
        if form.client_id not in (None, basic.client_id):
            raise InvalidClient()  # two different clients named
        return basic
    if form.client_id is None or form.client_secret is None:
        raise InvalidClient()
    return ClientCredentials(form.client_id, form.client_secret)


REFRESH_FORM_SCHEMA = {
    "type": "object",
    "required": ["grant_type", "refresh_token"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["refresh_token"]},
        "refresh_token": {"type": "string", "minLength": 1, "maxLength": 512},
        "scope": {"type": "string"},
        "client_id": {"type": "string"},
    },
}
REFRESH_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RefreshRequest"}},
            "application/x-www-form-urlencoded": {"schema": REFRESH_FORM_SCHEMA},
        },
    }
}


async def presented_refresh_token(request: Request, settings: SettingsDep) -> str:
    """The refresh token: from the cookie of a browser client (after the CSRF check), else
    from our JSON body or from the RFC 6749 §6 form."""
    if browser.is_browser(request):
        return browser.refresh_token_from_cookie(request, settings)
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        form = await request.form(max_files=0, max_fields=10)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        grant_type = fields.get("grant_type")
        if grant_type is None:
            raise RequestInvalid.missing("body", "grant_type")
        if grant_type != "refresh_token":
            raise UnsupportedGrantType("Only grant_type=refresh_token is supported here.")
        return _parse_refresh({"refresh_token": fields.get("refresh_token")})
    if content_type in ("application/json", ""):
        try:
            return RefreshRequest.model_validate_json(await request.body()).refresh_token
        except ValidationError as exc:
            raise RequestInvalid(_in_body(exc)) from None
    raise UnsupportedMediaType("Send application/json or application/x-www-form-urlencoded.")


def _parse_refresh(data: dict[str, Any]) -> str:
    try:
        return RefreshRequest.model_validate(data).refresh_token
    except ValidationError as exc:
        raise RequestInvalid(_in_body(exc)) from None


def _in_body(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]


def token_response(
    pair: sessions.TokenPair, request: Request, response: Response, settings: Settings
) -> TokenResponse:
    """The token response; for a browser client, the refresh token goes in a cookie instead."""
    if not browser.is_browser(request):
        return TokenResponse(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )
    browser.set_session_cookies(
        response,
        refresh_token=pair.refresh_token,
        expires_at=pair.session_expires_at,
        settings=settings,
    )
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in)
