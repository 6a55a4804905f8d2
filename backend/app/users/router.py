"""/users: the caller's own account, and user administration."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth import service as auth_service
from app.auth.dependencies import CurrentUser, PasswordHasherDep, SettingsDep
from app.auth.schemas import NO_NUL, PasswordChangeRequest, SessionList, SessionRead
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.pagination import Page, PageParamsDep
from app.core.rate_limit import rate_limit
from app.core.types import IdPath
from app.users import service
from app.users.dependencies import UserDeleter, UserEditor, UserReader
from app.users.schemas import MeRead, MeUpdate, UserRead, UsersFilter, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=MeRead)
async def read_me(user: CurrentUser) -> MeRead:
    # Built from the caller loaded by the auth dependency: no second query.
    return MeRead.from_principal(user)


@router.patch("/me", response_model=UserRead)
async def update_me(body: MeUpdate, user: CurrentUser, session: SessionDep) -> UserRead:
    updated = await service.update_profile(session, user.id, full_name=body.full_name)
    return UserRead.from_user(updated)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 429),
    # A stolen access token must not become an unlimited password-guessing oracle.
    dependencies=[rate_limit("password")],
)
async def change_my_password(
    body: PasswordChangeRequest,
    user: CurrentUser,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> None:
    await auth_service.change_password(
        session,
        hasher,
        settings,
        client,
        user_id=user.id,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.get("", response_model=Page[UserRead])
async def list_users(
    _: UserReader,
    session: SessionDep,
    page: PageParamsDep,
    email: Annotated[
        str | None, Query(max_length=320, pattern=NO_NUL, description="Email substring.")
    ] = None,
    role: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="Role name.")
    ] = None,
) -> Page[UserRead]:
    users, has_more = await service.list_users(session, UsersFilter(email=email, role=role), page)
    return Page[UserRead](
        items=[UserRead.from_user(user) for user in users],
        limit=page.limit,
        offset=page.offset,
        has_more=has_more,
    )


@router.get("/{user_id}", response_model=UserRead, responses=error_responses(404))
async def read_user(user_id: IdPath, _: UserReader, session: SessionDep) -> UserRead:
    return UserRead.from_user(await service.get_user(session, user_id))


@router.patch("/{user_id}", response_model=UserRead, responses=error_responses(404, 409))
async def update_user(
    user_id: IdPath,
    body: UserUpdate,
    editor: UserEditor,
    session: SessionDep,
    client: ClientContextDep,
) -> UserRead:
    user = await service.update_user(session, client, user_id, body, actor=editor)
    return UserRead.from_user(user)


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409)
)
async def delete_user(
    user_id: IdPath, deleter: UserDeleter, session: SessionDep, client: ClientContextDep
) -> None:
    await service.delete_user(session, client, user_id, actor_id=deleter.id)


@router.get("/{user_id}/sessions", response_model=SessionList, responses=error_responses(404))
async def list_user_sessions(
    user_id: IdPath, reader: UserReader, session: SessionDep, settings: SettingsDep
) -> SessionList:
    user = await service.get_user(session, user_id)
    sessions = await auth_service.list_sessions(session, settings, user_id=user.id)
    return SessionList(
        items=[SessionRead.from_session(item, current_id=reader.session_id) for item in sessions]
    )


@router.delete(
    "/{user_id}/sessions", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def revoke_user_sessions(
    user_id: IdPath, editor: UserEditor, session: SessionDep, client: ClientContextDep
) -> None:
    """End every session of the user: their refresh tokens and access tokens stop working."""
    user = await service.get_user(session, user_id)
    await auth_service.revoke_user_sessions(session, client, user_id=user.id, actor_id=editor.id)


@router.post(
    "/{user_id}/unlock", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def unlock_user(
    user_id: IdPath, editor: UserEditor, session: SessionDep, client: ClientContextDep
) -> None:
    """Lift the login lockout of the user's email (and forget its failed attempts)."""
    user = await service.get_user(session, user_id)
    await auth_service.unlock_login(session, client, user=user, actor_id=editor.id)
