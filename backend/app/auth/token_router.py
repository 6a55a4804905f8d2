"""/auth's token endpoints: log in (password and client credentials grants), the second step
of a sign-in, refresh, revoke and introspect. They also speak OAuth2 as client libraries expect
it (app.auth.oauth2): RFC 6749 form grants, RFC 7009 revocation, RFC 7662 introspection, and
RFC 6749 §5.2 `error` fields in their error bodies."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response, status

from app.auth import client_credentials as client_credentials_flow
from app.auth import (
    introspection,
    mfa,
    second_step,
    session_ends,
    sessions,
)
from app.auth import login as login_flow
from app.auth.dependencies import (
    AccessTokensDep,
    PasswordHasherDep,
    SealerDep,
)
from app.auth.introspection import IntrospectionResponse, introspecting_caller
from app.auth.oauth2 import (
    CLIENT_CREDENTIALS_GRANT,
    REFRESH_BODY_DOC,
    LoginForm,
    OAuth2ErrorRoute,
    client_credentials,
    presented_refresh_token,
    token_response,
)
from app.auth.schemas import (
    MfaRequiredBody,
    MfaVerifyRequest,
    TokenResponse,
)
from app.core.app_state import SettingsDep, database_of
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.rate_limit import rate_limit

# RFC 7009 §2.2: a token that is not ours gets 200, however long; an access token grows with
# the issuer and audience settings. The bound only keeps the work per request small.
REVOCABLE_TOKEN_MAX_LENGTH = 8192

token_router = APIRouter(prefix="/auth", tags=["auth"], route_class=OAuth2ErrorRoute)


@token_router.post(
    "/login",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses={
        **error_responses(400, 401, 429),
        403: {
            "model": MfaRequiredBody,
            "description": "The right password of an account with two-step verification: no "
            "tokens yet; send a code with `mfa_token` to POST /auth/mfa/verify.",
        },
    },
    dependencies=[rate_limit("login")],
)
async def login(
    form: Annotated[LoginForm, Depends()],
    request: Request,
    response: Response,
    session: SessionDep,
    hasher: PasswordHasherDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> TokenResponse:
    """The token endpoint. `grant_type=password` (the default): a user's email and password.
    `grant_type=client_credentials`: a service account, authenticated with HTTP Basic
    (client_secret_basic) or client_id and client_secret in the form (client_secret_post); an
    access token only, no refresh token (401 invalid_client on bad credentials)."""
    database = database_of(request)
    if form.grant_type == CLIENT_CREDENTIALS_GRANT:
        credentials = client_credentials(request, form)
        issued = await client_credentials_flow.grant(
            session,
            database,
            access_tokens,
            client,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
        )
        return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)
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
    return token_response(pair, request, response, settings)


@token_router.post(
    "/mfa/verify",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 429),
    dependencies=[rate_limit("login")],
)
async def verify_second_factor(
    body: MfaVerifyRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    sealer: SealerDep,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> TokenResponse:
    """The second step of a login: the `mfa_token` of the 403 `mfa_required` answer and a
    `code` from the authenticator (or a `recovery_code`). The same tokens as a login; each
    code works once, and a wrong one counts as a failed login of the account."""
    pair = await second_step.complete_challenge(
        session,
        sealer,
        access_tokens,
        settings,
        client,
        mfa_token=body.mfa_token,
        factor=mfa.SecondFactor(code=body.code, recovery_code=body.recovery_code),
    )
    return token_response(pair, request, response, settings)


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
        session,
        database_of(request),
        access_tokens,
        settings,
        client,
        refresh_token=refresh_token,
    )
    return token_response(pair, request, response, settings)


@token_router.post("/revoke", response_class=Response, responses={200: {"description": "Revoked"}})
async def revoke(
    token: Annotated[str, Form(min_length=1, max_length=REVOCABLE_TOKEN_MAX_LENGTH)],
    session: SessionDep,
    access_tokens: AccessTokensDep,
    client: ClientContextDep,
    token_type_hint: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """RFC 7009. A refresh token ends its session; so does an access token (through its
    `sid`); a personal access token is revoked. An unknown, expired or already revoked token
    also gets 200, as the RFC says."""
    await session_ends.revoke_token(session, access_tokens, client, token=token)
    return Response(status_code=status.HTTP_200_OK)


@token_router.post(
    "/introspect",
    response_model=IntrospectionResponse,
    response_model_exclude_none=True,
    responses=error_responses(401, 403),
)
async def introspect(
    _caller: Annotated[int, Depends(introspecting_caller)],
    token: Annotated[str, Form(min_length=1, max_length=REVOCABLE_TOKEN_MAX_LENGTH)],
    request: Request,
    response: Response,
    access_tokens: AccessTokensDep,
    settings: SettingsDep,
    token_type_hint: Annotated[str | None, Form(max_length=64)] = None,
) -> IntrospectionResponse:
    """RFC 7662. For a service account (HTTP Basic, its client credentials) or a caller holding
    `introspect_tokens`: whether an access token, refresh token or personal access token is
    live now, with its claims; `{"active": false}` for anything else. `token_type_hint` is
    accepted and not needed."""
    response.headers["Cache-Control"] = "no-store"
    return await introspection.introspect(
        database_of(request), access_tokens, settings, token=token
    )
