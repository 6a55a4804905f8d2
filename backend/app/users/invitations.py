"""Invitations: an administrator invites an address with roles (auth.invitations opens the
account when its owner accepts).

Inviting takes the permission to create users and every permission of the roles given (as
role changes do).
"""

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth import one_time_tokens as tokens
from app.auth.exceptions import EmailAlreadyRegistered
from app.auth.models import User
from app.auth.one_time_tokens import Purpose
from app.auth.postbox import Postbox
from app.auth.schemas import Principal
from app.core.config import Settings
from app.core.context import ClientContext
from app.users.service import guard_role_change, roles_by_name


async def invite(
    session: AsyncSession,
    settings: Settings,
    postbox: Postbox,
    client: ClientContext,
    *,
    email: str,
    role_names: list[str],
    actor: Principal,
) -> None:
    """Mail an invitation; a newer invitation to the same address replaces the older."""
    roles = await roles_by_name(session, role_names or [settings.default_role])
    await guard_role_change(session, client, set(), roles, actor=actor, action="invite_user")
    if await session.scalar(select(exists().where(User.email == email))):
        raise EmailAlreadyRegistered()
    token = await tokens.issue(
        session,
        settings,
        Purpose.INVITATION,
        email=email,
        roles=[role.name for role in roles],
        created_by=actor.id,
    )
    audit_log.record(
        session,
        Event.USER_INVITED,
        client,
        actor_id=actor.id,
        roles=[role.name for role in roles],
    )
    postbox.send(
        "invitation",
        email,
        link=postbox.link("accept-invitation", token),
        days=str(settings.invite_token_ttl_seconds // 86400),
    )
