"""Service accounts: users that log in with OAuth2 client credentials only. An administrator
creates one with roles (each holding only permissions they hold) and gets its client_id and
client_secret once; rotating the secret ends the old one, and the account's tokens, at once."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.client_credentials import hash_client_secret, new_client_id, new_client_secret
from app.auth.models import ServiceAccount, User
from app.auth.schemas import Principal
from app.auth.session_ends import revoke_all_sessions
from app.core.clock import utcnow
from app.core.context import ClientContext
from app.service_accounts.exceptions import ServiceAccountNotFound
from app.service_accounts.schemas import ServiceAccountCreate
from app.users.service import guard_role_change, guard_target, roles_by_name

# Matches no password: pwdlib knows no such scheme, and a verification against it costs one
# verification's time (PasswordHasher.verify_and_update), so a password login of a service
# account fails as any wrong password does.
NO_PASSWORD = "!service-account"
# Addresses of service accounts: the .invalid TLD (RFC 2606) never receives mail.
EMAIL_DOMAIN = "service-accounts.invalid"


@dataclass(frozen=True, slots=True)
class Issued:
    account: ServiceAccount
    user: User
    client_secret: str


async def create_service_account(
    session: AsyncSession, client: ClientContext, data: ServiceAccountCreate, *, actor: Principal
) -> Issued:
    roles = await roles_by_name(session, data.roles) if data.roles else []
    await guard_role_change(
        session, client, set(), roles, actor=actor, action="create_service_account"
    )
    client_id = new_client_id()
    secret = new_client_secret()
    now = utcnow()
    user = User(
        email=f"{client_id}@{EMAIL_DOMAIN}",
        hashed_password=NO_PASSWORD,
        full_name=data.name,
        is_service_account=True,
        roles=roles,
    )
    session.add(user)
    await session.flush()
    account = ServiceAccount(
        user_id=user.id,
        client_id=client_id,
        secret_hash=hash_client_secret(secret),
        created_by=actor.id,
        created_at=now,
        secret_rotated_at=now,
    )
    session.add(account)
    await session.flush()
    audit_log.record(
        session,
        Event.SERVICE_ACCOUNT_CREATED,
        client,
        actor_id=actor.id,
        subject_id=user.id,
        client_id=client_id,
        roles=[role.name for role in roles],
    )
    return Issued(account, user, secret)


async def list_service_accounts(session: AsyncSession) -> list[tuple[ServiceAccount, User]]:
    rows = await session.execute(
        select(ServiceAccount, User)
        .join(User, User.id == ServiceAccount.user_id)
        .options(selectinload(User.roles))
        .order_by(ServiceAccount.created_at.desc(), ServiceAccount.user_id.desc())
    )
    return [(account, user) for account, user in rows]


async def rotate_secret(
    session: AsyncSession, client: ClientContext, user_id: int, *, actor: Principal
) -> Issued:
    """A new secret; the old one stops working, and the tokens issued with it end, at once."""
    row = (
        await session.execute(
            select(ServiceAccount, User)
            .join(User, User.id == ServiceAccount.user_id)
            .options(selectinload(User.roles))
            .where(ServiceAccount.user_id == user_id)
        )
    ).first()
    if row is None:
        raise ServiceAccountNotFound()
    account, user = row
    await guard_target(session, client, user, actor=actor, action="rotate_client_secret")
    secret = new_client_secret()
    account.secret_hash = hash_client_secret(secret)
    account.secret_rotated_at = utcnow()
    await revoke_all_sessions(session, user.id)
    audit_log.record(
        session,
        Event.SERVICE_ACCOUNT_SECRET_ROTATED,
        client,
        actor_id=actor.id,
        subject_id=user.id,
        client_id=account.client_id,
    )
    await session.flush()
    return Issued(account, user, secret)
