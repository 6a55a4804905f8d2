"""/auth: register, log in, refresh, log out, revoke, and the caller's sessions.

The token endpoints (/auth/login, /auth/refresh, /auth/revoke) also speak OAuth2 as client
libraries expect it: RFC 6749 form grants, RFC 7009 revocation, and RFC 6749 §5.2 `error`
fields in their error bodies.
"""

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import accounts, browser, sessions
from app.auth import login as login_flow
from app.auth.dependencies import (
    AccessTokensDep,
    CurrentUser,
    PasswordHasherDep,
    SettingsDep,
)
from app.auth.exceptions import UnsupportedGrantType
from app.auth.schemas import (
    Password,
    RefreshRequest,
    RegisterRequest,
    SessionList,
    SessionRead,
    TokenResponse,
    UserRead,
)
from app.core.config import Settings
from app.core.context import ClientContextDep
from app.core.database import NoTransactionDep, SessionDep
from app.core.errors import AppError, RequestInvalid, UnsupportedMediaType, error_responses
from app.core.rate_limit import rate_limit
from app.core.schemas import NO_NUL

# RFC 6749 §5.2 error of each of our codes, for OAuth2 client libraries.
OAUTH2_ERRORS = {
    "invalid_credentials": "invalid_grant",
    "invalid_token": "invalid_grant",
    "token_expired": "invalid_grant",
    "token_revoked": "invalid_grant",
    "unsupported_grant_type": "unsupported_grant_type",
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


# RFC 7009 §2.2: a token that is not ours gets 200, however long; an access token grows with
# the issuer and audience settings. The bound only keeps the work per request small.
REVOCABLE_TOKEN_MAX_LENGTH = 8192

router = APIRouter(prefix="/auth", tags=["auth"])
token_router = APIRouter(prefix="/auth", tags=["auth"], route_class=OAuth2ErrorRoute)


class LoginForm:
    """The OAuth2 password grant (RFC 6749 §4.3), form-encoded; username is the email.
    `scope` and `client_id` are accepted and ignored."""

    def __init__(
        self,
        username: Annotated[str, Form(max_length=320, pattern=NO_NUL)],
        password: Annotated[Password, Form()],
        grant_type: Annotated[str | None, Form(max_length=64)] = None,
        scope: Annotated[str, Form(max_length=1000)] = "",
        client_id: Annotated[str | None, Form(max_length=200)] = None,
    ) -> None:
        if grant_type is not None and grant_type != "password":
            raise UnsupportedGrantType()
        self.username = username
        self.password = password


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
            raise RequestInvalid(
                [{"loc": ["body", "grant_type"], "msg": "Field required", "type": "missing"}]
            )
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


def _token_response(
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


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(403, 409, 429),
    dependencies=[rate_limit("register")],
)
async def register(
    body: RegisterRequest,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> UserRead:
    user = await accounts.register_user(
        session,
        hasher,
        settings,
        client,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
    )
    return UserRead.from_user(user)


@token_router.post(
    "/login",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 429),
    dependencies=[rate_limit("login")],
)
async def login(
    form: Annotated[LoginForm, Depends()],
    request: Request,
    response: Response,
    session: SessionDep,
    database: NoTransactionDep,
    hasher: PasswordHasherDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> TokenResponse:
    pair = await login_flow.login(
        session,
        database,
        hasher,
        access_tokens,
        settings,
        client,
        email=form.username,
        password=form.password,
    )
    return _token_response(pair, request, response, settings)


@token_router.post(
    "/refresh",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 415),
    openapi_extra=REFRESH_BODY_DOC,
)
async def refresh(
    refresh_token: Annotated[str, Depends(presented_refresh_token)],
    request: Request,
    response: Response,
    session: SessionDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> TokenResponse:
    pair = await sessions.rotate_refresh_token(
        session, access_tokens, settings, client, refresh_token=refresh_token
    )
    return _token_response(pair, request, response, settings)


@token_router.post("/revoke", response_class=Response, responses={200: {"description": "Revoked"}})
async def revoke(
    token: Annotated[str, Form(min_length=1, max_length=REVOCABLE_TOKEN_MAX_LENGTH)],
    session: SessionDep,
    access_tokens: AccessTokensDep,
    client: ClientContextDep,
    token_type_hint: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """RFC 7009. A refresh token ends its session; so does an access token (through its
    `sid`). An unknown, expired or already revoked token also gets 200, as the RFC says."""
    await sessions.revoke_token(session, access_tokens, client, token=token)
    return Response(status_code=status.HTTP_200_OK)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(403))
async def logout(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientContextDep,
    body: RefreshRequest | None = None,
) -> None:
    """End the session of a refresh token: from the body, or a browser client's cookie (which
    is then cleared). Logging out twice is harmless."""
    if browser.is_browser(request):
        if not browser.has_session_cookie(request, settings):
            browser.clear_session_cookies(response, settings)
            return
        refresh_token = browser.refresh_token_from_cookie(request, settings)
        browser.clear_session_cookies(response, settings)
    elif body is not None:
        refresh_token = body.refresh_token
    else:
        raise RequestInvalid([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
    await sessions.logout(session, client, refresh_token=refresh_token)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(user: CurrentUser, session: SessionDep, client: ClientContextDep) -> None:
    await sessions.logout_all(session, client, user_id=user.id)


@router.get("/sessions", response_model=SessionList)
async def list_my_sessions(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> SessionList:
    live = await sessions.list_sessions(session, settings, user_id=user.id)
    return SessionList(
        items=[SessionRead.from_session(item, current_id=user.session_id) for item in live]
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
async def revoke_my_session(
    session_id: uuid.UUID, user: CurrentUser, session: SessionDep, client: ClientContextDep
) -> None:
    await sessions.revoke_session(
        session, client, user_id=user.id, session_id=session_id, actor_id=user.id
    )
