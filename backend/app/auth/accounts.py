"""Accounts: registration, the password policy, password changes, and the startup check of
DEFAULT_ROLE.

Functions take a session and typed arguments, raise domain errors, and only flush: the
request's session dependency commits. Each security event is recorded in the audit log in
the same transaction as the change it describes."""

from contextlib import nullcontext

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import EmailAlreadyRegistered, RegistrationClosed, WrongCurrentPassword
from app.auth.models import Role, User
from app.auth.passwords import check_password_policy
from app.auth.postbox import Postbox
from app.auth.recovery import send_verification
from app.auth.session_ends import revoke_all_sessions
from app.core.config import Settings, SettingsError
from app.core.context import ClientContext
from app.core.database import Database
from app.core.security import PasswordHasher


async def check_default_role(database: Database, settings: Settings) -> None:
    """Refuse to start when DEFAULT_ROLE names no role: every registration would fail."""
    async with database.sessionmaker() as session:
        found = await session.scalar(select(Role.id).where(Role.name == settings.default_role))
    if found is None:
        raise SettingsError(
            f"py-auth cannot start:\n  DEFAULT_ROLE: no role is named {settings.default_role!r} "
            "(create it first, or choose an existing role)."
        )


async def register_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    email: str,
    password: str,
    full_name: str | None,
) -> User | None:
    """A new account with DEFAULT_ROLE, and a mail to verify its address. With
    EMAIL_VERIFICATION=required the answer must not tell whether the address had an account:
    None then, and the owner of a taken address is told by mail instead."""
    if settings.registration == "closed":
        raise RegistrationClosed()
    default_role = await session.scalar(select(Role).where(Role.name == settings.default_role))
    if default_role is None:
        # Checked at startup, and the role cannot be deleted while it is the default.
        raise RuntimeError(f"The default role {settings.default_role!r} does not exist.")
    quiet = settings.email_verification == "required"
    try:
        # Quiet, a taken address must leave the request's transaction usable: a savepoint.
        async with session.begin_nested() if quiet else nullcontext():
            user = await add_account(
                session,
                hasher,
                settings,
                email=email,
                password=password,
                full_name=full_name,
                roles=[default_role],
            )
    except EmailAlreadyRegistered:
        if not quiet:
            raise
        # The same 202 as for a new account (the same work too: the password was hashed);
        # only the owner learns of it, by mail.
        postbox.send("registration_attempt", email, reset_url=postbox.page("forgot-password"))
        return None
    audit_log.record(session, Event.USER_REGISTERED, client, actor_id=user.id, subject_id=user.id)
    await send_verification(session, settings, postbox, client, user)
    return user


async def add_account(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str | None,
    roles: list[Role],
) -> User:
    """A new account, whoever opens it (registration, an administrator): the password policy,
    the hash, and one 409 for an address that has an account."""
    check_password_policy(password, email, settings, field="password")
    user = User(
        email=email, hashed_password=await hasher.hash(password), full_name=full_name, roles=roles
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # The unique index decides, so two requests racing for one email get one 409.
        raise EmailAlreadyRegistered() from None
    return user


async def change_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    client: ClientContext,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
) -> None:
    """Set a new password and end every session of the user."""
    user = await session.get_one(User, user_id)
    check_password_policy(new_password, user.email, settings, field="new_password")
    is_valid, _ = await hasher.verify_and_update(current_password, user.hashed_password)
    if not is_valid:
        raise WrongCurrentPassword()
    user.hashed_password = await hasher.hash(new_password)
    await revoke_all_sessions(session, user_id)
    audit_log.record(session, Event.PASSWORD_CHANGED, client, actor_id=user_id, subject_id=user_id)
    await session.flush()
