"""/auth: register, recover an account, reauthenticate, log out, and the caller's sessions.
The token endpoints (login, the second step, refresh, revocation, introspection) are
app.auth.token_router."""

import uuid

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth import (
    accounts,
    browser,
    invitations,
    mfa,
    recovery,
    session_ends,
)
from app.auth import login as login_flow
from app.auth.dependencies import (
    AccessTokensDep,
    CurrentUser,
    EnrollingUser,
    InteractiveUser,
    PasswordHasherDep,
    SealerDep,
)
from app.auth.postbox import PostboxDep
from app.auth.schemas import (
    Accepted,
    AcceptInvitationRequest,
    AccessTokenResponse,
    ForgotPasswordRequest,
    MailedTokenRequest,
    ReauthenticateRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    SessionList,
    SessionRead,
    UserRead,
)
from app.core.app_state import SettingsDep, database_of
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import RequestInvalid, error_responses
from app.core.rate_limit import rate_limit

router = APIRouter(prefix="/auth", tags=["auth"])


CHECK_YOUR_MAIL = "If the address can receive it, a mail is on its way."


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={
        202: {
            "model": Accepted,
            "description": "EMAIL_VERIFICATION=required: the same answer whether or not the "
            "address had an account; a mail says what happens next.",
        },
        **error_responses(403, 409, 429),
    },
    dependencies=[rate_limit("register")],
)
async def register(
    body: RegisterRequest,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> UserRead | JSONResponse:
    """A new account with DEFAULT_ROLE, and a mail to verify its address. With
    EMAIL_VERIFICATION=optional a taken address is a 409 (an account's existence is then no
    secret to whoever tries to register it); with `required`, 202 either way."""
    user = await accounts.register_user(
        session,
        hasher,
        settings,
        postbox,
        client,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
    )
    if settings.email_verification == "required":
        return JSONResponse(Accepted(detail=CHECK_YOUR_MAIL).model_dump(), status_code=202)
    assert user is not None
    return UserRead.from_user(user)


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(429),
    dependencies=[rate_limit("recovery")],
)
async def forgot_password(
    body: ForgotPasswordRequest,
    session: SessionDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> Accepted:
    """Mail a reset link to the address, if it has an active account: the same 202 for every
    address, known or not."""
    await recovery.forgot_password(session, settings, postbox, client, email=body.email)
    return Accepted(detail=CHECK_YOUR_MAIL)


@router.post(
    "/reset-password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 403, 429),
    dependencies=[rate_limit("recovery")],
)
async def reset_password(
    body: ResetPasswordRequest,
    session: SessionDep,
    hasher: PasswordHasherDep,
    sealer: SealerDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> None:
    """Set a new password with the token of a reset mail (once): every session of the user
    ends. It does not log in. An account with two-step verification sends a `code` (or a
    `recovery_code`) too: without one, 403 `mfa_required`, and the link is not used up."""
    await recovery.reset_password(
        session,
        hasher,
        sealer,
        settings,
        postbox,
        client,
        token=body.token,
        password=body.password,
        factor=mfa.SecondFactor(code=body.code, recovery_code=body.recovery_code),
    )


@router.post(
    "/request-verify-token",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(429),
    dependencies=[rate_limit("recovery")],
)
async def request_verify_token(
    body: ForgotPasswordRequest,
    session: SessionDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> Accepted:
    """Mail a new verification link, if the address has an unverified account."""
    await recovery.request_verification(session, settings, postbox, client, email=body.email)
    return Accepted(detail=CHECK_YOUR_MAIL)


@router.post("/verify", response_model=UserRead, responses=error_responses(400))
async def verify(
    body: MailedTokenRequest, session: SessionDep, client: ClientContextDep
) -> UserRead:
    """Mark the address verified with the token of a verification mail (once)."""
    return UserRead.from_user(await recovery.verify_email(session, client, token=body.token))


@router.post(
    "/accept-invitation",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(400, 409, 429),
    dependencies=[rate_limit("recovery")],
)
async def accept_invitation(
    body: AcceptInvitationRequest,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> UserRead:
    """Open the invited account (with REGISTRATION=closed too): its roles are the
    invitation's, its address verified."""
    user = await invitations.accept_invitation(
        session,
        hasher,
        settings,
        client,
        token=body.token,
        password=body.password,
        full_name=body.full_name,
    )
    return UserRead.from_user(user)


@router.post(
    "/reauthenticate",
    response_model=AccessTokenResponse,
    responses=error_responses(400, 403, 429),
    dependencies=[rate_limit("login")],
)
async def reauthenticate(
    body: ReauthenticateRequest,
    caller: EnrollingUser,
    session: SessionDep,
    request: Request,
    hasher: PasswordHasherDep,
    sealer: SealerDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> AccessTokenResponse:
    """Prove who you are again (the password, and a code if the account has two-step
    verification) for the actions that need a recent sign-in (401
    `insufficient_user_authentication`): a fresh access token in the same session."""
    token = await login_flow.reauthenticate(
        session,
        database_of(request),
        hasher,
        sealer,
        access_tokens,
        settings,
        client,
        caller=caller,
        password=body.password,
        factor=mfa.SecondFactor(code=body.code, recovery_code=body.recovery_code)
        if body.has_factor
        else None,
    )
    return AccessTokenResponse(
        access_token=token, expires_in=int(access_tokens.lifetime.total_seconds())
    )


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
        raise RequestInvalid.missing("body")
    await session_ends.logout(session, client, refresh_token=refresh_token)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(user: InteractiveUser, session: SessionDep, client: ClientContextDep) -> None:
    await session_ends.logout_all(session, client, user_id=user.id)


@router.get("/sessions", response_model=SessionList)
async def list_my_sessions(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> SessionList:
    live = await session_ends.list_sessions(session, settings, user_id=user.id)
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
    await session_ends.revoke_session(
        session, client, user_id=user.id, session_id=session_id, actor_id=user.id
    )
