"""What the app holds for its lifetime, read in one place and typed.

``create_app`` puts the settings, the database, the access-token codec, the password hasher,
the sealer (encryption at rest), the client-address rules and the per-IP rate limiter on
``app.state``; everything else reads them through these functions (and routes through the
dependencies built on them), never ``request.app.state`` by hand.
"""

from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.core.client_address import ClientAddress
from app.core.config import Settings

if TYPE_CHECKING:  # imported for their types only: they read the app's state through here
    from app.core.database import Database
    from app.core.rate_limit import ClientRateLimiter
    from app.core.sealing import Sealer
    from app.core.security import AccessTokenCodec, PasswordHasher


def settings_of(connection: HTTPConnection) -> Settings:
    return cast(Settings, connection.app.state.settings)


def database_of(connection: HTTPConnection) -> "Database":
    return cast("Database", connection.app.state.database)


def rate_limiter_of(connection: HTTPConnection) -> "ClientRateLimiter":
    return cast("ClientRateLimiter", connection.app.state.rate_limiter)


def client_ip_of(connection: HTTPConnection) -> str:
    """The client's address under the trusted-proxy rules. Resolved when asked for (a session,
    the audit log, a rate limit, a log line), not for every request."""
    return cast(ClientAddress, connection.app.state.client_address).of(connection.scope)


def access_tokens_of(connection: HTTPConnection) -> "AccessTokenCodec":
    return cast("AccessTokenCodec", connection.app.state.access_tokens)


def password_hasher_of(connection: HTTPConnection) -> "PasswordHasher":
    return cast("PasswordHasher", connection.app.state.password_hasher)


def sealer_of(connection: HTTPConnection) -> "Sealer":
    return cast("Sealer", connection.app.state.sealer)


async def get_settings(connection: HTTPConnection) -> Settings:
    return settings_of(connection)


SettingsDep = Annotated[Settings, Depends(get_settings)]
