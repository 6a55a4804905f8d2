"""/auth: register, log in, refresh, log out."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, status

from app.auth import service
from app.auth.dependencies import AccessTokensDep, CurrentUser, PasswordHasherDep, SettingsDep
from app.auth.exceptions import UnsupportedGrantType
from app.auth.schemas import Password, RefreshRequest, RegisterRequest, TokenResponse
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.users.schemas import UserRead

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginForm:
    """The OAuth2 password grant (RFC 6749 §4.3), form-encoded; username is the email."""

    def __init__(
        self,
        username: Annotated[str, Form(max_length=320)],
        password: Annotated[Password, Form()],
        grant_type: Annotated[str | None, Form()] = None,
        scope: Annotated[str, Form(max_length=1000)] = "",
        client_id: Annotated[str | None, Form(max_length=200)] = None,
    ) -> None:
        if grant_type is not None and grant_type != "password":
            raise UnsupportedGrantType()
        self.username = username
        self.password = password


def _token_response(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


def _refresh_lifetime(settings: SettingsDep) -> timedelta:
    return timedelta(days=settings.refresh_token_days)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(409),
)
async def register(
    body: RegisterRequest, session: SessionDep, hasher: PasswordHasherDep
) -> UserRead:
    user = await service.register_user(
        session, hasher, email=body.email, password=body.password, full_name=body.full_name
    )
    return UserRead.from_user(user)


@router.post("/login", response_model=TokenResponse, responses=error_responses(400, 401))
async def login(
    form: Annotated[LoginForm, Depends()],
    session: SessionDep,
    hasher: PasswordHasherDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
) -> TokenResponse:
    user = await service.authenticate(session, hasher, email=form.username, password=form.password)
    pair = await service.issue_tokens(
        session, access_tokens, user_id=user.id, refresh_lifetime=_refresh_lifetime(settings)
    )
    return _token_response(pair)


@router.post("/refresh", response_model=TokenResponse, responses=error_responses(401))
async def refresh(
    body: RefreshRequest,
    session: SessionDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
) -> TokenResponse:
    pair = await service.rotate_refresh_token(
        session,
        access_tokens,
        refresh_token=body.refresh_token,
        refresh_lifetime=_refresh_lifetime(settings),
    )
    return _token_response(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    await service.logout(session, refresh_token=body.refresh_token)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401))
async def logout_all(user: CurrentUser, session: SessionDep) -> None:
    await service.revoke_all_refresh_tokens(session, user.id)
