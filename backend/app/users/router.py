"""/users: the caller's own account, and user administration."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth import accounts, email_change, session_ends
from app.auth.dependencies import (
    CurrentUser,
    InteractiveUser,
    PasswordHasherDep,
    RecentUser,
)
from app.auth.postbox import PostboxDep
from app.auth.schemas import (
    Accepted,
    MailedTokenRequest,
    PasswordChangeRequest,
    SessionList,
    SessionRead,
    UserRead,
)
from app.core.app_state import SettingsDep
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.pagination import Page
from app.core.rate_limit import rate_limit
from app.core.schemas import model_response
from app.core.types import IdPath
from app.users import account_actions, invitations, service
from app.users.dependencies import (
    PrivateUserReader,
    UserCreator,
    UserDeleter,
    UserEditor,
    UserReader,
)
from app.users.schemas import (
    EmailChangeRequest,
    InvitationCreate,
    MeRead,
    MeUpdate,
    UserCreate,
    UsersQuery,
    UserUpdate,
)

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=MeRead)
async def read_me(user: CurrentUser) -> Response:
    # Built from the caller loaded by the auth dependency (no second query), and sent as it is.
    return model_response(MeRead.from_principal(user))


@router.patch("/me", response_model=UserRead)
async def update_me(body: MeUpdate, user: CurrentUser, session: SessionDep) -> UserRead:
    updated = await service.update_profile(session, user.id, full_name=body.full_name)
    return UserRead.from_user(updated)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 401, 429),
    # A stolen access token must not become an unlimited password-guessing oracle, nor change
    # the password without a recent sign-in.
    dependencies=[rate_limit("password")],
)
async def change_my_password(
    body: PasswordChangeRequest,
    user: RecentUser,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> None:
    await accounts.change_password(
        session,
        hasher,
        settings,
        client,
        user_id=user.id,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(409),
)
async def create_user(
    body: UserCreate,
    creator: UserCreator,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> UserRead:
    """Create an account for someone (works with REGISTRATION=closed). Its roles may hold only
    permissions the caller holds."""
    user = await service.create_user(session, hasher, settings, client, body, actor=creator)
    return UserRead.from_user(user)


@router.post(
    "/me/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(400, 401, 429),
    dependencies=[rate_limit("password")],
)
async def change_my_email(
    body: EmailChangeRequest,
    user: RecentUser,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> Accepted:
    """Mail a confirmation link to the new address (and a notice to the current one); the
    address changes when the link is used. Until then login uses the current address."""
    await email_change.request_email_change(
        session,
        hasher,
        settings,
        postbox,
        client,
        user_id=user.id,
        new_email=body.new_email,
        password=body.password,
    )
    return Accepted(detail="If the new address can receive it, a confirmation link is on its way.")


@router.post("/me/email/confirm", response_model=UserRead, responses=error_responses(400, 409))
async def confirm_my_email(
    body: MailedTokenRequest, user: InteractiveUser, session: SessionDep, client: ClientContextDep
) -> UserRead:
    """Switch to the new address with the token of its confirmation mail (once): it counts as
    verified, and every other session of the account ends."""
    assert user.session_id is not None
    changed = await email_change.confirm_email_change(
        session, client, user_id=user.id, current_session_id=user.session_id, token=body.token
    )
    return UserRead.from_user(changed)


@router.post(
    "/invitations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(409),
)
async def invite_user(
    body: InvitationCreate,
    inviter: UserCreator,
    session: SessionDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> Accepted:
    """Mail an invitation to open an account with these roles (each holding only
    permissions the inviter holds); it works with REGISTRATION=closed."""
    await invitations.invite(
        session, settings, postbox, client, email=body.email, role_names=body.roles, actor=inviter
    )
    return Accepted(detail="The invitation is on its way.")


@router.get("", response_model=Page[UserRead])
async def list_users(
    reader: UserReader,
    session: SessionDep,
    client: ClientContextDep,
    query: Annotated[UsersQuery, Query()],
) -> Page[UserRead]:
    """The user directory. Emails are shown only to callers holding `read_user_private`."""
    users, has_more = await service.list_users(session, client, query, viewer=reader)
    return Page[UserRead](
        items=[UserRead.for_viewer(user, reader) for user in users],
        limit=query.limit,
        offset=query.offset,
        has_more=has_more,
    )


@router.get("/{user_id}", response_model=UserRead, responses=error_responses(404))
async def read_user(user_id: IdPath, reader: UserReader, session: SessionDep) -> UserRead:
    return UserRead.for_viewer(await service.get_user(session, user_id), reader)


@router.patch("/{user_id}", response_model=UserRead, responses=error_responses(404, 409))
async def update_user(
    user_id: IdPath,
    body: UserUpdate,
    editor: UserEditor,
    session: SessionDep,
    client: ClientContextDep,
) -> UserRead:
    user = await service.update_user(session, client, user_id, body, actor=editor)
    return UserRead.for_viewer(user, editor)


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409)
)
async def delete_user(
    user_id: IdPath, deleter: UserDeleter, session: SessionDep, client: ClientContextDep
) -> None:
    await service.delete_user(session, client, user_id, actor=deleter)


@router.get("/{user_id}/sessions", response_model=SessionList, responses=error_responses(404))
async def list_user_sessions(
    user_id: IdPath, reader: PrivateUserReader, session: SessionDep, settings: SettingsDep
) -> SessionList:
    user = await service.get_user(session, user_id)
    live = await session_ends.list_sessions(session, settings, user_id=user.id)
    return SessionList(
        items=[SessionRead.from_session(item, current_id=reader.session_id) for item in live]
    )


@router.delete(
    "/{user_id}/sessions", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def revoke_user_sessions(
    user_id: IdPath, editor: UserEditor, session: SessionDep, client: ClientContextDep
) -> None:
    """End every session of the user: their refresh tokens and access tokens stop working."""
    await account_actions.end_sessions(session, client, user_id, actor=editor)


@router.post(
    "/{user_id}/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(404),
)
async def send_password_reset(
    user_id: IdPath,
    editor: UserEditor,
    session: SessionDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> Accepted:
    """Mail the user a password reset link (to their own address)."""
    await account_actions.send_password_reset(
        session, settings, postbox, client, user_id, actor=editor
    )
    return Accepted(detail="A reset link is on its way to the user.")


@router.post(
    "/{user_id}/unlock", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def unlock_user(
    user_id: IdPath, editor: UserEditor, session: SessionDep, client: ClientContextDep
) -> None:
    """Lift the login lockout of the user's email (and forget its failed attempts)."""
    await account_actions.unlock(session, client, user_id, actor=editor)
