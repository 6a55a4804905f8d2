"""Authentication logic: registration, credentials, token issue, rotation and revocation.

Functions take a session and typed arguments, raise domain errors, and only flush:
the request's session dependency commits.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    PasswordRejected,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
    WrongCurrentPassword,
)
from app.auth.models import Permission, RefreshToken, Role, User, role_permissions, user_roles
from app.auth.passwords import password_problem
from app.auth.schemas import Principal
from app.core.clock import utcnow
from app.core.security import AccessTokenCodec, PasswordHasher, hash_opaque_token, new_opaque_token

DEFAULT_ROLE = "viewer"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


async def load_principal(session: AsyncSession, user_id: int) -> Principal | None:
    """The user with role and permission names, in one round trip (the hot path)."""
    statement = (
        select(
            User.email,
            User.full_name,
            User.is_active,
            User.created_at,
            Role.name,
            Permission.name,
        )
        .outerjoin(user_roles, user_roles.c.user_id == User.id)
        .outerjoin(Role, Role.id == user_roles.c.role_id)
        .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
        .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
        .where(User.id == user_id)
    )
    rows = (await session.execute(statement)).all()
    if not rows:
        return None
    email, full_name, is_active, created_at = rows[0][:4]
    roles = {row[4] for row in rows if row[4] is not None}
    permissions = frozenset(row[5] for row in rows if row[5] is not None)
    return Principal(
        id=user_id,
        email=email,
        full_name=full_name,
        is_active=is_active,
        created_at=created_at,
        roles=tuple(sorted(roles)),
        permissions=permissions,
    )


async def register_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    full_name: str | None,
) -> User:
    hashed_password = await hasher.hash(password)
    default_role = await session.scalar(select(Role).where(Role.name == DEFAULT_ROLE))
    user = User(email=email, hashed_password=hashed_password, full_name=full_name)
    user.roles = [default_role] if default_role is not None else []
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # The unique index decides, so two registrations racing for one email get one 409.
        raise EmailAlreadyRegistered() from None
    return user


async def authenticate(
    session: AsyncSession, hasher: PasswordHasher, *, email: str, password: str
) -> User:
    """The active user with these credentials, or InvalidCredentials.

    Unknown email, wrong password and inactive account look the same from outside,
    in status, body and time (an unknown email is verified against a dummy hash).
    """
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        await hasher.verify_dummy(password)
        raise InvalidCredentials()
    is_valid, new_hash = await hasher.verify_and_update(password, user.hashed_password)
    if not is_valid or not user.is_active:
        raise InvalidCredentials()
    if new_hash is not None:
        # The stored hash used outdated parameters: upgrade it while we know the password.
        user.hashed_password = new_hash
    return user


async def issue_tokens(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    *,
    user_id: int,
    refresh_lifetime: timedelta,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    """A new access token and a new refresh token (in a new family unless one is given)."""
    refresh_token = new_opaque_token()
    session.add(
        RefreshToken(
            user_id=user_id,
            token_hash=hash_opaque_token(refresh_token),
            family_id=family_id or uuid.uuid4(),
            expires_at=utcnow() + refresh_lifetime,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access_tokens.issue(user_id),
        refresh_token=refresh_token,
        expires_in=int(access_tokens.lifetime.total_seconds()),
    )


async def rotate_refresh_token(
    session: AsyncSession,
    access_tokens: AccessTokenCodec,
    *,
    refresh_token: str,
    refresh_lifetime: timedelta,
) -> TokenPair:
    """Trade a refresh token for a new pair; the presented token is revoked.

    Revoking is one conditional UPDATE, so of several requests presenting the same token
    exactly one wins. Presenting a token that was already rotated or revoked means it was
    copied: the whole family is revoked, the thief's and the owner's tokens alike.
    """
    now = utcnow()
    token_hash = hash_opaque_token(refresh_token)
    rotated = (
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(revoked_at=now)
            .returning(RefreshToken.user_id, RefreshToken.family_id)
        )
    ).first()
    if rotated is None:
        await _explain_rejected_refresh(session, token_hash)
    user_id, family_id = rotated
    is_active = await session.scalar(select(User.is_active).where(User.id == user_id))
    if not is_active:
        raise RefreshTokenRevoked()
    return await issue_tokens(
        session,
        access_tokens,
        user_id=user_id,
        refresh_lifetime=refresh_lifetime,
        family_id=family_id,
    )


async def _explain_rejected_refresh(session: AsyncSession, token_hash: str) -> NoReturn:
    token = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if token is None:
        raise RefreshTokenInvalid()
    if token.revoked_at is not None:
        await revoke_family(session, token.family_id)
        raise RefreshTokenReused()
    raise RefreshTokenExpired()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """End the login this refresh token belongs to; an unknown or revoked token is a no-op."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
    )
    if token is not None:
        await revoke_family(session, token.family_id)


async def revoke_all_refresh_tokens(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def change_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
) -> None:
    """Set a new password and end every session of the user."""
    user = await session.get_one(User, user_id)
    if (problem := password_problem(new_password, user.email)) is not None:
        raise PasswordRejected(problem, field="new_password")
    is_valid, _ = await hasher.verify_and_update(current_password, user.hashed_password)
    if not is_valid:
        raise WrongCurrentPassword()
    user.hashed_password = await hasher.hash(new_password)
    await revoke_all_refresh_tokens(session, user_id)
    await session.flush()
