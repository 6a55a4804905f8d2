"""Security primitives: password hashing, access tokens (JWT, signed with the key ring's
active key, or with an HMAC key derived from JWT_SECRET), opaque refresh tokens, and the keys
derived from JWT_SECRET."""

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.clock import utcnow
from app.core.config import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, Settings
from app.core.errors import InvalidToken, TokenExpired
from app.core.signing_keys import KeyRing

ACCESS_TOKEN_TYPE = "access"
# RFC 9068 §2.1: the media type of a JWT access token, so no other JWT passes as one.
ACCESS_TOKEN_JWT_TYP = "at+jwt"
# How far ahead of this process's clock another process's may be, for a token's iat.
CLOCK_SKEW_SECONDS = 30
REQUIRED_CLAIMS = ["sub", "sid", "exp", "iat", "iss", "aud", "jti", "type", "auth_time", "amr"]
# RFC 8176 authentication method references that py-auth writes in `amr`.
AMR_VALUES = frozenset({"pwd", "otp", "mfa"})
# users.id is an INTEGER: 32 bits on PostgreSQL, where a larger bound value fails the query.
MAX_USER_ID = 2**31 - 1
# A user id as `issue` writes it: decimal digits, no sign, no leading zero, no spaces.
_USER_ID_TEXT = re.compile(r"[1-9][0-9]{0,9}")

# The HKDF "info" of each key derived from JWT_SECRET (derive_key): one key per use.
ACCESS_TOKEN_KEY_PURPOSE = "py-auth access-token signing"
CSRF_KEY_PURPOSE = "py-auth csrf"
# 64 bytes: as long as RFC 7518 §3.2 asks of an HS512 key, and more than HS256/HS384 need.
DERIVED_KEY_BYTES = 64


def derive_key(secret: str, purpose: str, length: int = DERIVED_KEY_BYTES) -> bytes:
    """A key of its own for one use of a secret: HKDF-SHA256 (RFC 5869), no salt, the purpose
    as info. Keys of different purposes are independent: what one key or the values made with
    it reveal (a CSRF token is readable by scripts) tells nothing of the secret or of another
    key (the one that signs access tokens)."""
    if not 0 < length <= 255 * hashlib.sha256().digest_size:
        raise ValueError("HKDF-SHA256 makes 1 to 8160 bytes")
    # Extract: no salt is HashLen zero bytes (RFC 5869 §2.2).
    prk = hmac.digest(bytes(hashlib.sha256().digest_size), secret.encode(), "sha256")
    okm = block = b""
    counter = 1
    while len(okm) < length:  # expand (§2.3)
        block = hmac.digest(prk, block + purpose.encode() + bytes([counter]), "sha256")
        okm += block
        counter += 1
    return okm[:length]


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
    # The login the token belongs to: the caller is loaded only while that session is live.
    session_id: uuid.UUID
    # When the user last proved who they are, and how (RFC 8176): for step-up (RFC 9470).
    auth_time: datetime
    amr: tuple[str, ...]
    # The signing key's id (None with an HMAC algorithm): a key retired in an emergency ends
    # its tokens at the next request, in the query that loads the caller.
    kid: str | None = None


class UnknownSigningKey(InvalidToken):
    """A token whose kid names no key of this process's key ring: perhaps one that another
    process has just made (the caller reads the set again, at most once a second)."""

    def __init__(self, kid: str) -> None:
        super().__init__()
        self.kid = kid


class AccessTokenCodec:
    """Issues and checks short-lived JWT access tokens that carry identity only.

    With an asymmetric algorithm, ``keys`` is the key ring: a token is signed by the active
    key and names it in its ``kid`` header; it is checked with the key of that kid in the
    ring (never one the token points at: ``jku``, ``x5u`` and ``jwk`` are not read), with the
    algorithm pinned to that key's. With an HMAC algorithm, the key is derived from JWT_SECRET.
    """

    def __init__(self, settings: Settings, keys: KeyRing | None = None) -> None:
        if settings.uses_signing_keys and keys is None:
            raise ValueError(f"{settings.jwt_algorithm} signs with the keys of a KeyRing")
        self.keys = keys if settings.uses_signing_keys else None
        self._key = derive_key(settings.jwt_secret.get_secret_value(), ACCESS_TOKEN_KEY_PURPOSE)
        self._algorithm = settings.jwt_algorithm
        self._issuer = settings.token_issuer
        self._audience = settings.jwt_audience
        self.lifetime = timedelta(minutes=settings.access_token_minutes)

    def issue(
        self, user_id: int, *, session_id: uuid.UUID, auth_time: datetime, amr: Sequence[str]
    ) -> str:
        now = utcnow()
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "sid": str(session_id),
            "auth_time": int(auth_time.timestamp()),
            "amr": list(amr),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": self._audience,
            "type": ACCESS_TOKEN_TYPE,
        }
        if self.keys is None:
            return jwt.encode(
                payload, self._key, algorithm=self._algorithm, headers={"typ": ACCESS_TOKEN_JWT_TYP}
            )
        signing = self.keys.signing_key(now)
        return jwt.encode(
            payload,
            signing.private_key,
            algorithm=signing.algorithm,
            headers={"typ": ACCESS_TOKEN_JWT_TYP, "kid": signing.kid},
        )

    def decode(self, token: str) -> AccessClaims:
        """The claims of a token this service issued, else InvalidToken (TokenExpired;
        UnknownSigningKey for a kid that is not in the key ring)."""
        parts = _COMPACT_JWS.fullmatch(token)
        if parts is None:
            raise InvalidToken()
        header = _json_segment(parts["header"])
        key: Any = self._key
        algorithm: str = self._algorithm
        kid: str | None = None
        if self.keys is not None:
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise InvalidToken()
            signing = self.keys.verification_key(kid, utcnow())
            if signing is None:
                raise UnknownSigningKey(kid)
            key, algorithm = signing.public_key, signing.algorithm
        # The algorithm is the key's, whatever the header says ("none" and key confusion are
        # refused); no header parameter (jku, x5u, jwk, crit) is acted on, and crit, which asks
        # for extensions py-auth does not know, refuses the token (RFC 7515 §4.1.11).
        if header.get("alg") != algorithm or "crit" in header:
            raise InvalidToken()
        if not is_access_token_typ(header.get("typ")):
            raise InvalidToken()
        verifier = _ALGORITHMS[algorithm]
        signature = _segment(parts["signature"])
        signing_input = token[: parts.end("payload")].encode("ascii")
        if not verifier.verify(signing_input, verifier.prepare_key(key), signature):
            raise InvalidToken()
        claims = _json_segment(parts["payload"])
        if (
            any(name not in claims for name in REQUIRED_CLAIMS)
            or claims["iss"] != self._issuer
            or not _audience_matches(claims["aud"], self._audience)
            or claims["type"] != ACCESS_TOKEN_TYPE
        ):
            raise InvalidToken()
        # Held to what `issue` writes, so that a token minted with the key cannot outlive the
        # access lifetime, skip the session check, or fail the query that loads the caller.
        issued_at, expires_at = claims["iat"], claims["exp"]
        if not (_is_time(issued_at) and _is_time(expires_at)) or (
            expires_at - issued_at > self.lifetime.total_seconds()
        ):
            raise InvalidToken()
        now = utcnow().timestamp()
        if expires_at <= now:
            raise TokenExpired()
        if issued_at > now + CLOCK_SKEW_SECONDS:
            raise InvalidToken()  # issued in the future: not by this service's clock
        auth_time = claims["auth_time"]
        if not _is_time(auth_time) or auth_time > issued_at:
            raise InvalidToken()
        return AccessClaims(
            user_id=_user_id(claims["sub"]),
            session_id=_session_id(claims["sid"]),
            auth_time=datetime.fromtimestamp(auth_time, UTC),
            amr=_amr(claims["amr"]),
            kid=kid,
        )


# A JWS in compact serialization as `issue` writes it (RFC 7515 §7.1): three base64url
# segments, without padding. Checked by one regular expression: PyJWT's decode checks each
# character in Python, which took as long as the RSA verification itself (BENCHMARKS.md).
_COMPACT_JWS = re.compile(
    r"(?P<header>[A-Za-z0-9_-]+)\.(?P<payload>[A-Za-z0-9_-]+)\.(?P<signature>[A-Za-z0-9_-]+)"
)
# PyJWT's implementations of the algorithms py-auth signs with: the cryptography is theirs.
_ALGORITHMS = {
    name: jwt.get_algorithm_by_name(name) for name in (*HMAC_ALGORITHMS, *ASYMMETRIC_ALGORITHMS)
}


def _segment(segment: str) -> bytes:
    """A base64url segment's bytes (its alphabet already checked)."""
    try:
        return base64.urlsafe_b64decode(_padded(segment))
    except ValueError:  # binascii.Error: a length no encoding has
        raise InvalidToken() from None


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_segment(segment))
    except ValueError:  # not JSON, or not UTF-8
        raise InvalidToken() from None
    if not isinstance(value, dict):
        raise InvalidToken()
    return value


def _audience_matches(claim: object, audience: str) -> bool:
    """RFC 7519 §4.1.3: `aud` is one string or a list of them, and must name this service."""
    if isinstance(claim, str):
        return claim == audience
    return isinstance(claim, list) and audience in claim


def _padded(segment: str) -> bytes:
    return (segment + "=" * (-len(segment) % 4)).encode("ascii")


def _is_time(value: object) -> bool:
    # PyJWT also reads a numeric string as a time; `issue` writes numbers.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _user_id(sub: object) -> int:
    """`sub` as `issue` writes it, and an id that users.id can hold: a larger one would fail
    the query on PostgreSQL (a 500) rather than find no one."""
    if not isinstance(sub, str) or not _USER_ID_TEXT.fullmatch(sub) or int(sub) > MAX_USER_ID:
        raise InvalidToken()
    return int(sub)


def _amr(amr: object) -> tuple[str, ...]:
    """`amr` as `issue` writes it: a non-empty list of the methods py-auth knows."""
    if (
        not isinstance(amr, list)
        or not amr
        or not all(isinstance(method, str) and method in AMR_VALUES for method in amr)
    ):
        raise InvalidToken()
    return tuple(amr)


def _session_id(sid: object) -> uuid.UUID:
    """`sid` as `issue` writes it: a UUID, in its canonical form. A token without one would be
    honoured whatever became of its session, a logout included."""
    if isinstance(sid, str):
        try:
            session_id = uuid.UUID(sid)
        except ValueError:
            pass
        else:
            if str(session_id) == sid:
                return session_id
    raise InvalidToken()


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
