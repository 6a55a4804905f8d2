"""Security primitives: password hashing, access tokens (JWT) and opaque refresh tokens."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.errors import InvalidToken, TokenExpired

ACCESS_TOKEN_TYPE = "access"
# RFC 9068 §2.1: the media type of a JWT access token, so no other JWT passes as one.
ACCESS_TOKEN_JWT_TYP = "at+jwt"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud", "jti", "type"]


class PasswordHasher:
    """Argon2id hashing off the event loop, with a bound on concurrent hashes.

    Each hash takes a core and ``argon2_memory_kib`` of memory for ~100 ms; the limiter makes a
    login flood queue for a thread instead of starving the event loop and exhausting memory.
    """

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_kib,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )
        self._limiter = anyio.CapacityLimiter(settings.password_hash_concurrency)
        # Made now, not at the first unknown email, so that even that one costs one verify.
        self._dummy_hash = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Verify; when the hash uses outdated parameters, also return a fresh hash to store.

        A stored value that is no Argon2 hash (a disabled-account marker, an imported hash of
        another scheme) matches no password; it still costs one verification of time.
        """

        def verify() -> tuple[bool, str | None]:
            try:
                return self._hash.verify_and_update(password, hashed)
            except UnknownHashError:
                self._hash.verify(password, self._dummy_hash)
                return False, None

        return await anyio.to_thread.run_sync(verify, limiter=self._limiter)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verification, so an unknown account is not told by timing."""

        def verify() -> None:
            self._hash.verify(password, self._dummy_hash)

        await anyio.to_thread.run_sync(verify, limiter=self._limiter)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    jti: str
    issued_at: datetime
    expires_at: datetime
    session_id: str | None = None


class AccessTokenCodec:
    """Issues and checks short-lived JWT access tokens that carry identity only."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.jwt_secret.get_secret_value()
        self._algorithm = settings.jwt_algorithm
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.lifetime = timedelta(minutes=settings.access_token_minutes)

    def issue(self, user_id: int, *, session_id: str | None = None) -> str:
        now = utcnow()
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": self._audience,
            "type": ACCESS_TOKEN_TYPE,
        }
        if session_id is not None:
            payload["sid"] = session_id
        return jwt.encode(
            payload, self._key, algorithm=self._algorithm, headers={"typ": ACCESS_TOKEN_JWT_TYP}
        )

    def decode(self, token: str) -> AccessClaims:
        try:
            decoded = jwt.decode_complete(
                token,
                self._key,
                algorithms=[self._algorithm],  # pinned: "none" and key confusion are refused
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired() from None
        except jwt.InvalidTokenError:
            raise InvalidToken() from None
        claims = decoded["payload"]
        if (
            not is_access_token_typ(decoded["header"].get("typ"))
            or claims["type"] != ACCESS_TOKEN_TYPE
        ):
            raise InvalidToken()
        try:
            user_id = int(claims["sub"])
        except (TypeError, ValueError):
            raise InvalidToken() from None
        sid = claims.get("sid")
        return AccessClaims(
            user_id=user_id,
            jti=str(claims["jti"]),
            issued_at=datetime.fromtimestamp(claims["iat"], tz=utcnow().tzinfo),
            expires_at=datetime.fromtimestamp(claims["exp"], tz=utcnow().tzinfo),
            session_id=sid if isinstance(sid, str) else None,
        )


def is_access_token_typ(typ: object) -> bool:
    """RFC 9068 §4: typ is "at+jwt" or "application/at+jwt"; a media type, so its case does not
    matter (RFC 7515 §4.1.9). Anything else, a missing typ included, is another kind of JWT."""
    return isinstance(typ, str) and typ.lower().removeprefix("application/") == ACCESS_TOKEN_JWT_TYP


def new_opaque_token() -> str:
    """256 random bits, URL-safe: a refresh token."""
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    """SHA-256 of a high-entropy token: enough at rest (no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
