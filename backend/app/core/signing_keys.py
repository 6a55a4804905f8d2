"""Asymmetric signing keys in memory: making them, naming them (RFC 7638 thumbprints), and the
key ring each process holds, from which it signs and verifies without a query per request.

A key's life is written as timestamps (``published_at``, ``signs_from``, ``signs_until``,
``verifies_until``, ``retired_at``), so that every process, reading the same rows, computes
the same answer to "which key signs now, which keys verify now" from its own clock:

    next      published_at <= now < signs_from        published; verifies, does not sign yet
    active    signs_from <= now < signs_until          signs (signs_until unset: until rotated)
    retiring  signs_until <= now < verifies_until      verifies the tokens it signed
    retired   verifies_until <= now, or retired_at set gone from the key set

The rows live in the database (app.keys); the ring is this process's copy of them, read again
every KEY_RELOAD_SECONDS and, at most once a second, on a token whose kid it does not know.
"""

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from app.core.errors import ServiceUnavailable

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

RSA_KEY_BITS = 2048
# A token with a kid this process does not know makes it read the key set again, at most this
# often: random kids cannot make a query per request.
UNKNOWN_KID_RELOAD_SECONDS = 1.0
# RFC 7638 §3.2: the members of each key type that its thumbprint hashes, in this order.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
# The public members a JWK of ours may carry (never "d", "p", "q", ... the private ones).
_PUBLIC_MEMBERS = frozenset({"kty", "n", "e", "crv", "x", "y"})


class KeyState(StrEnum):
    NEXT = "next"
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"


class NoSigningKey(ServiceUnavailable):
    """No key of the configured algorithm signs now: the key set could not be read yet (the
    database away when the process started). A 503, tried again at the next request."""

    detail = "No signing key is available yet; try again shortly."


def generate_private_key(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"{algorithm} is not an asymmetric algorithm")


def public_jwk(key: PrivateKey | PublicKey) -> dict[str, str]:
    """The public members of a key as a JWK (RFC 7517), nothing else."""
    public = key.public_key() if isinstance(key, PrivateKey) else key
    jwk: dict[str, str]
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {name: value for name, value in jwk.items() if name in _PUBLIC_MEMBERS}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: base64url(SHA-256) of the JSON of the required members, sorted, no spaces."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, PrivateKey):
        raise ValueError("not an RSA, EC or Ed25519 private key")
    return key


def load_public_key(jwk: Mapping[str, Any]) -> PublicKey:
    text = json.dumps(dict(jwk))
    key: Any
    if jwk["kty"] == "RSA":
        key = RSAAlgorithm.from_jwk(text)
    elif jwk["kty"] == "EC":
        key = ECAlgorithm.from_jwk(text)
    else:
        key = OKPAlgorithm.from_jwk(text)
    if not isinstance(key, PublicKey):
        raise ValueError("a JWK of the key set holds a private key")
    return key


@dataclass(frozen=True, slots=True)
class KeyTimes:
    """The lifecycle of a key, as its row holds it."""

    published_at: datetime
    signs_from: datetime
    signs_until: datetime | None = None
    verifies_until: datetime | None = None
    retired_at: datetime | None = None

    def state(self, now: datetime) -> KeyState:
        if (self.retired_at is not None and self.retired_at <= now) or (
            self.verifies_until is not None and self.verifies_until <= now
        ):
            return KeyState.RETIRED
        if now < self.signs_from:
            return KeyState.NEXT
        if self.signs_until is None or now < self.signs_until:
            return KeyState.ACTIVE
        return KeyState.RETIRING


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the set: its public part, its times, and its private part when it can
    still sign (a retiring key's is not kept)."""

    kid: str
    algorithm: str
    jwk: Mapping[str, str]
    times: KeyTimes
    public_key: PublicKey
    private_key: PrivateKey | None

    def published_jwk(self) -> dict[str, str]:
        return {**self.jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass(frozen=True, slots=True)
class Signer:
    """The active key, ready to sign."""

    kid: str
    algorithm: str
    private_key: PrivateKey


KeyLoader = Callable[[], Awaitable[list[SigningKey]]]


class KeyRing:
    """This process's copy of the key set: the key that signs now, the keys that verify now.

    ``load`` reads the set from the database (and rotates it when due: app.keys.service).
    Reads are single-flight: concurrent callers share one query.
    """

    def __init__(
        self, algorithm: str, load: KeyLoader, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.algorithm = algorithm
        self._load = load
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at: float | None = None
        self._loading: asyncio.Future[None] | None = None

    @property
    def is_loaded(self) -> bool:
        return self._loaded_at is not None

    async def ensure_loaded(self) -> None:
        """Read the key set unless it has been: cheap on every request after the first."""
        if self._loaded_at is None:
            await self.reload()

    async def reload(self) -> None:
        """Read the key set now; a read already under way is waited for, not repeated."""
        if self._loading is not None:
            await asyncio.shield(self._loading)
            return
        loading = self._loading = asyncio.get_running_loop().create_future()
        try:
            keys = await self._load()
            self._keys = {key.kid: key for key in keys if key.algorithm == self.algorithm}
            self._loaded_at = self._clock()
            loading.set_result(None)
        except BaseException as error:
            loading.set_exception(error)
            loading.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._loading = None

    async def knows_after_reload(self, kid: str) -> bool:
        """Whether ``kid`` is in the set, reading the set again first if it is not and the
        last read is more than UNKNOWN_KID_RELOAD_SECONDS old (a key that another process
        has just made)."""
        if kid in self._keys:
            return True
        if (
            self._loading is None
            and self._loaded_at is not None
            and (self._clock() - self._loaded_at < UNKNOWN_KID_RELOAD_SECONDS)
        ):
            return False
        await self.reload()
        return kid in self._keys

    def signing_key(self, now: datetime) -> Signer:
        """The active key: the latest to start signing among those that sign now."""
        active = [
            Signer(key.kid, key.algorithm, key.private_key)
            for key in sorted(self._keys.values(), key=lambda key: key.times.signs_from)
            if key.private_key is not None and key.times.state(now) is KeyState.ACTIVE
        ]
        if not active:
            raise NoSigningKey()
        return active[-1]

    def verification_key(self, kid: str, now: datetime) -> SigningKey | None:
        """The key of this kid if it verifies now (next, active or retiring)."""
        key = self._keys.get(kid)
        if key is None or key.times.state(now) is KeyState.RETIRED:
            return None
        return key

    def published(self, now: datetime) -> list[dict[str, str]]:
        """The JWKs of GET /.well-known/jwks.json: every key that verifies now, public
        members only, oldest first."""
        keys = sorted(self._keys.values(), key=lambda key: key.times.published_at)
        return [
            key.published_jwk()
            for key in keys
            if key.times.published_at <= now and key.times.state(now) is not KeyState.RETIRED
        ]
