"""OAuth2 client credentials (RFC 6749 §4.4) for service accounts: client authentication
(§2.3.1, HTTP Basic or the form's client_id and client_secret) and the grant, which starts a
session of the access token's lifetime (no refresh token), so that `sid` stays required and
revocation, deactivation and rotation end its tokens at once."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit_log import writer as audit_log
from app.audit_log.writer import Event
from app.auth.exceptions import InvalidClient
from app.auth.models import AuthSession, ServiceAccount, User
from app.core.clock import utcnow
from app.core.context import ClientContext
from app.core.database import Database
from app.core.fast_read import FastRead
from app.core.metrics import LOGINS
from app.core.security import AccessTokenCodec

CLIENT_ID_PREFIX = "pya_client_"
CLIENT_SECRET_PREFIX = "pya_secret_"
# Compared against when the client_id is unknown, so that unknown and known clients cost the
# same work.
_DUMMY_HASH = hashlib.sha256(b"no such client").hexdigest()


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(12)


def new_client_secret() -> str:
    """256 random bits, with a prefix that leak scanners can recognise."""
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    """SHA-256: enough for 256 random bits (no salt or slow hash is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ServiceAccountClient(NamedTuple):
    user_id: int
    secret_hash: str
    is_active: bool
    credentials_version: int


# Read outside any transaction (as a login reads its account): introspection authenticates its
# caller and then reads the token with fast reads, and a request that held a pooled connection
# in a transaction while asking for another could exhaust the pool under load.
SERVICE_ACCOUNT_CLIENT = FastRead(
    "service_account_client",
    select(
        ServiceAccount.user_id,
        ServiceAccount.secret_hash,
        User.is_active,
        User.credentials_version,
    )
    .join(User, User.id == ServiceAccount.user_id)
    .where(ServiceAccount.client_id == bindparam("client_id", type_=ServiceAccount.client_id.type)),
    ServiceAccountClient,
)


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    user_id: int
    client_id: str
    credentials_version: int


async def authenticate_client(
    database: Database, *, client_id: str, client_secret: str
) -> AuthenticatedClient:
    """The service account of these credentials, if it is active; else InvalidClient, the same
    for an unknown client, a wrong secret and an inactive account."""
    found = await database.fetch(SERVICE_ACCOUNT_CLIENT, {"client_id": client_id})
    row = found[0] if found else None
    presented = hash_client_secret(client_secret)
    matches = hmac.compare_digest(presented, row.secret_hash if row else _DUMMY_HASH)
    if row is None or not matches or not row.is_active:
        raise InvalidClient()
    return AuthenticatedClient(row.user_id, client_id, row.credentials_version)


@dataclass(frozen=True, slots=True)
class ClientToken:
    access_token: str
    expires_in: int


async def grant(
    session: AsyncSession,
    database: Database,
    access_tokens: AccessTokenCodec,
    client: ClientContext,
    *,
    client_id: str,
    client_secret: str,
) -> ClientToken:
    """An access token for the service account: a session that ends with the token."""
    # The account's credentials version is read with the secret: a rotation that commits
    # meanwhile leaves this grant's session dead (as a login racing a password change).
    account = await authenticate_client(database, client_id=client_id, client_secret=client_secret)
    now = utcnow()
    lifetime: timedelta = access_tokens.lifetime
    auth_session = AuthSession(
        user_id=account.user_id,
        credentials_version=account.credentials_version,
        created_at=now,
        last_used_at=now,
        expires_at=now + lifetime,
        ip=client.ip,
        user_agent=client.user_agent,
    )
    session.add(auth_session)
    await session.flush()
    LOGINS.labels("client_credentials").inc()
    audit_log.record(
        session,
        Event.LOGIN_SUCCEEDED,
        client,
        actor_id=account.user_id,
        subject_id=account.user_id,
        grant="client_credentials",
        client_id=client_id,
    )
    return ClientToken(
        # RFC 8176 has no method of its own for a client secret: a shared secret, "pwd".
        access_token=access_tokens.issue(
            account.user_id,
            session_id=auth_session.id,
            auth_time=auth_session.auth_time,
            amr=("pwd",),
        ),
        expires_in=int(lifetime.total_seconds()),
    )
