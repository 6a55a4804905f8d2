"""/users/me/tokens: the caller's personal access tokens; /users/{id}/tokens: anyone's, for
administrators. Every route needs a login: a token never creates, lists or revokes tokens."""

from fastapi import APIRouter, Response, status

from app.auth import pats
from app.auth.dependencies import InteractiveUser
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.types import IdPath
from app.tokens.dependencies import LOGIN_REQUIRED, TokenReader, TokenRevoker
from app.tokens.schemas import (
    PersonalAccessTokenCreate,
    PersonalAccessTokenCreated,
    PersonalAccessTokenList,
    PersonalAccessTokenRead,
)
from app.users import account_actions

router = APIRouter(prefix="/users", tags=["tokens"])


@router.post(
    "/me/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonalAccessTokenCreated,
    responses=error_responses(403, 409),
)
async def create_my_token(
    body: PersonalAccessTokenCreate,
    user: InteractiveUser,
    response: Response,
    session: SessionDep,
    client: ClientContextDep,
) -> PersonalAccessTokenCreated:
    """A personal access token, shown this once. Its scopes are permissions the caller holds;
    what it may do is its scopes and the caller's permissions of the moment, both."""
    token, text = await pats.create_token(
        session,
        client,
        owner=user,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
    )
    response.headers["Cache-Control"] = "no-store"
    return PersonalAccessTokenCreated(
        **PersonalAccessTokenRead.from_token(token).model_dump(), token=text
    )


@router.get("/me/tokens", response_model=PersonalAccessTokenList)
async def list_my_tokens(user: InteractiveUser, session: SessionDep) -> PersonalAccessTokenList:
    """The caller's live tokens (neither revoked nor expired), newest first."""
    tokens = await pats.list_tokens(session, user_id=user.id)
    return PersonalAccessTokenList(items=[PersonalAccessTokenRead.from_token(t) for t in tokens])


@router.delete(
    "/me/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
async def revoke_my_token(
    token_id: IdPath, user: InteractiveUser, session: SessionDep, client: ClientContextDep
) -> None:
    await pats.revoke_token(session, client, user_id=user.id, token_id=token_id, actor_id=user.id)


@router.get(
    "/{user_id}/tokens",
    response_model=PersonalAccessTokenList,
    responses=error_responses(404),
    dependencies=LOGIN_REQUIRED,
)
async def list_user_tokens(
    user_id: IdPath, reader: TokenReader, session: SessionDep
) -> PersonalAccessTokenList:
    tokens = await account_actions.tokens_of(session, user_id)
    return PersonalAccessTokenList(items=[PersonalAccessTokenRead.from_token(t) for t in tokens])


@router.delete(
    "/{user_id}/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
    dependencies=LOGIN_REQUIRED,
)
async def revoke_user_token(
    user_id: IdPath,
    token_id: IdPath,
    revoker: TokenRevoker,
    session: SessionDep,
    client: ClientContextDep,
) -> None:
    await account_actions.revoke_token_of(session, client, user_id, token_id, actor=revoker)
