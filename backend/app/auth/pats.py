"""Personal access tokens (their tables are in app.auth.models, their routes in app.tokens):
creation (scopes within the user's permissions, a limit per user), listing, revocation one by one,
all of a user's, or by the token itself (RFC 7009)."""

from datetime import timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import ScopeNotHeld, TokenNotFound, TooManyTokens, UnknownScope
from app.auth.models import Permission, PersonalAccessToken, User
from app.auth.pat_format import display_prefix, is_well_formed, new_personal_access_token
from app.auth.schemas import Principal
from app.core.clock import utcnow
from app.core.context import ClientContext
from app.core.security import hash_opaque_token

MAX_LIVE_TOKENS = 50


def _is_live() -> ColumnElement[bool]:
    now = utcnow()
    return PersonalAccessToken.revoked_at.is_(None) & (PersonalAccessToken.expires_at > now)


async def create_token(
    session: AsyncSession,
    client: ClientContext,
    *,
    owner: Principal,
    name: str,
    scopes: list[str],
    expires_in_days: int,
) -> tuple[PersonalAccessToken, str]:
    """A new token of the caller's, and its text (shown once; only its hash is kept)."""
    wanted = sorted(set(scopes))
    permissions = list(await session.scalars(select(Permission).where(Permission.name.in_(wanted))))
    if unknown := sorted(set(wanted) - {permission.name for permission in permissions}):
        raise UnknownScope(unknown)
    if missing := [name for name in wanted if name not in owner.permissions]:
        raise ScopeNotHeld(missing)
    # The user's row is locked first (PostgreSQL; SQLite serializes writes), so that parallel
    # creations are counted one after the other and the limit holds.
    await session.execute(select(User.id).where(User.id == owner.id).with_for_update())
    live = await session.scalar(
        select(func.count())
        .select_from(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == owner.id, _is_live())
    )
    if (live or 0) >= MAX_LIVE_TOKENS:
        raise TooManyTokens(MAX_LIVE_TOKENS)
    text = new_personal_access_token()
    now = utcnow()
    token = PersonalAccessToken(
        user_id=owner.id,
        name=name,
        token_hash=hash_opaque_token(text),
        display_prefix=display_prefix(text),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
        scopes=sorted(permissions, key=lambda permission: permission.name),
    )
    session.add(token)
    await session.flush()
    audit_log.record(
        session,
        Event.PERSONAL_ACCESS_TOKEN_CREATED,
        client,
        actor_id=owner.id,
        subject_id=owner.id,
        token_id=token.id,
        token_prefix=token.display_prefix,
        scopes=wanted,
        expires_at=token.expires_at.isoformat(),
    )
    return token, text


async def list_tokens(session: AsyncSession, *, user_id: int) -> list[PersonalAccessToken]:
    """The user's live tokens (neither revoked nor expired), newest first."""
    result = await session.scalars(
        select(PersonalAccessToken)
        .options(selectinload(PersonalAccessToken.scopes))
        .where(PersonalAccessToken.user_id == user_id, _is_live())
        .order_by(PersonalAccessToken.created_at.desc(), PersonalAccessToken.id.desc())
    )
    return list(result)


async def revoke_token(
    session: AsyncSession, client: ClientContext, *, user_id: int, token_id: int, actor_id: int
) -> None:
    """Revoke one live token of this user; someone else's, or a dead one, is "not found"."""
    token = await session.scalar(
        select(PersonalAccessToken).where(
            PersonalAccessToken.id == token_id,
            PersonalAccessToken.user_id == user_id,
            _is_live(),
        )
    )
    if token is None:
        raise TokenNotFound()
    await _revoke(session, client, token, actor_id=actor_id, reason="revoked")


async def revoke_all_tokens(
    session: AsyncSession,
    client: ClientContext,
    *,
    user_id: int,
    actor_id: int | None,
    reason: str,
) -> None:
    """Revoke every live token of the user (a password reset, a deactivation, a deletion)."""
    tokens = await session.scalars(
        select(PersonalAccessToken).where(PersonalAccessToken.user_id == user_id, _is_live())
    )
    for token in tokens.all():
        await _revoke(session, client, token, actor_id=actor_id, reason=reason)


async def revoke_presented_token(session: AsyncSession, client: ClientContext, token: str) -> None:
    """RFC 7009: the token itself revokes it. An unknown or dead one is ignored."""
    if not is_well_formed(token):
        return
    found = await session.scalar(
        select(PersonalAccessToken).where(
            PersonalAccessToken.token_hash == hash_opaque_token(token), _is_live()
        )
    )
    if found is not None:
        await _revoke(session, client, found, actor_id=found.user_id, reason="revoked_by_token")


async def _revoke(
    session: AsyncSession,
    client: ClientContext,
    token: PersonalAccessToken,
    *,
    actor_id: int | None,
    reason: str,
) -> None:
    # Conditional: of two revocations at once, one records it.
    result = await session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.id == token.id, PersonalAccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return
    audit_log.record(
        session,
        Event.PERSONAL_ACCESS_TOKEN_REVOKED,
        client,
        actor_id=actor_id,
        subject_id=token.user_id,
        token_id=token.id,
        token_prefix=token.display_prefix,
        reason=reason,
    )


async def purge_dead_tokens(session: AsyncSession, *, idle_days: int) -> int:
    """Delete tokens revoked or expired more than ``idle_days`` ago (kept that long, as revoked
    sessions are, so that a late use is still told and audited as a revoked or expired token's)."""
    limit = utcnow() - timedelta(days=idle_days)
    result = await session.execute(
        delete(PersonalAccessToken).where(
            or_(PersonalAccessToken.expires_at < limit, PersonalAccessToken.revoked_at < limit)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
