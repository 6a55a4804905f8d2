"""Settings, read once from the environment and backend/.env."""

import os
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from limits import parse
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BACKEND_DIR = Path(__file__).resolve().parents[2]
ENV_FILE = BACKEND_DIR / ".env"
DEFAULT_SQLITE_URL = f"sqlite+aiosqlite:///{BACKEND_DIR / 'py_auth.db'}"
MIN_SECRET_BYTES = 32
# The algorithms JWT_ALGORITHM accepts, by family: a key of one family must never be read as a
# key of the other (the algorithm-confusion attacks: an RSA public key taken as an HMAC secret).
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
JwtAlgorithm = Literal["RS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"]


class SettingsError(RuntimeError):
    """The configuration cannot work; the message says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_SQLITE_URL
    db_pool_size: int = Field(default=10, ge=1)
    # Overflow connections are closed when given back: under steady load above the pool they
    # are opened and closed per request (BENCHMARKS.md). Off unless a deployment wants bursts.
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # Connections older than this are replaced when next checked out (a cheap clock check), so
    # idle timeouts of PgBouncer, firewalls or load balancers do not leave dead ones pooled.
    db_pool_recycle_seconds: int = Field(default=1800, ge=1)
    # A pooled connection idle longer than this is tested (a ping) before use: after a quiet
    # spell, a database restart is one, no request meets a dead connection; a busy process,
    # reusing its connections within milliseconds, tests none (BENCHMARKS.md).
    db_ping_after_idle_seconds: float = Field(default=10.0, ge=0)
    # Bounds every connect attempt and statement, so an outage answers 503 instead of hanging.
    db_timeout_seconds: float = Field(default=5.0, gt=0)
    # What sits between py-auth and PostgreSQL. "pgbouncer": a pooler in transaction mode, which
    # keeps no prepared statement from one transaction to the next and refuses the
    # statement_timeout startup parameter: no statement caches, unnamed statements only, and
    # the server-side timeout left to the role (docs/operations.md#pgbouncer).
    db_pooler: Literal["none", "pgbouncer"] = "none"

    jwt_secret: SecretStr
    # One algorithm, pinned when tokens are checked. RS256 by default: the cheapest to verify,
    # which every request does (BENCHMARKS.md); HS256/384/512 sign with a key derived from
    # JWT_SECRET, which then every verifier must hold.
    jwt_algorithm: JwtAlgorithm = "RS256"
    # The `iss` of access tokens when PUBLIC_URL is unset; with PUBLIC_URL, `iss` is that URL.
    jwt_issuer: str = "py-auth"
    # Signing keys (asymmetric algorithms): the active key is replaced after this many days.
    key_rotation_days: int = Field(default=90, ge=1)
    # How long a client may cache GET /.well-known/jwks.json. A new key is published at least
    # this long (plus KEY_RELOAD_SECONDS) before it signs.
    jwks_max_age_seconds: int = Field(default=900, ge=0, le=86400)
    # How often each process reads the key set again (and rotates when due).
    key_reload_seconds: int = Field(default=60, ge=1, le=3600)
    jwt_audience: str = "py-auth"
    access_token_minutes: int = Field(default=15, ge=1)
    # Keys that encrypt secrets at rest (TOTP secrets, signing keys): comma-separated base64url
    # 32-byte keys, the first seals, all open (app.core.sealing). Unset: one key derived from
    # JWT_SECRET. Left out of the repr.
    encryption_keys: SecretStr | None = Field(default=None, repr=False)
    refresh_token_days: int = Field(default=14, ge=1)
    # A session unused this long cannot be refreshed, whatever its absolute expiry.
    refresh_idle_days: int = Field(default=7, ge=1)

    # pwdlib's recommended Argon2id parameters; tests lower them through the environment.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    # Concurrent hashes; each takes argon2_memory_kib of memory and a core for ~100 ms.
    password_hash_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)

    # Second factor (TOTP): the issuer name authenticator apps show; the permissions whose
    # holders must enrol before anything else works (comma-separated, e.g. update_user); how
    # recent a proof of identity the sensitive changes need (RFC 9470 step-up).
    mfa_issuer: str = Field(default="py-auth", min_length=1, max_length=64)
    mfa_required_permissions: Annotated[frozenset[str], NoDecode] = frozenset()
    step_up_max_age_seconds: int = Field(default=300, ge=30)

    # Self-registration at POST /auth/register; "closed" leaves account creation to
    # administrators (POST /users).
    registration: Literal["open", "closed"] = "open"
    # The role a self-registered account gets; it must exist when the app starts.
    default_role: str = Field(default="viewer", min_length=1, max_length=64)

    # "required": an account must verify its address before it can log in, and registration
    # says the same (202) whether or not the address has an account.
    email_verification: Literal["optional", "required"] = "optional"
    # Lifetimes of the tokens sent by mail.
    reset_token_ttl_seconds: int = Field(default=3600, ge=60)
    verify_token_ttl_seconds: int = Field(default=86400, ge=60)
    invite_token_ttl_seconds: int = Field(default=604800, ge=60)

    password_min_length: int = Field(default=8, ge=8, le=128)
    # Per-account throttling of failed logins (counted in the database, for every process).
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window: int = Field(default=15 * 60, ge=1, description="seconds")
    login_lockout_seconds: int = Field(default=60, ge=1)
    login_lockout_max_seconds: int = Field(default=15 * 60, ge=1)
    # Per-client-IP limit on login and registration; empty switches it off.
    auth_rate_limit: str = "30/minute"
    rate_limit_storage_url: str | None = None

    audit_retention_days: int = Field(default=365, ge=1)

    # Where mail goes: smtp://[user:pass@]host:port[?tls=off] (STARTTLS when the server offers
    # it, and required with credentials; tls=off for a local relay), smtps://[user:pass@]host:port
    # (implicit TLS), or file:///absolute/folder (one .eml file per message, for development).
    # Left out of the repr: it may hold a password.
    mail_url: str = Field(default=(BACKEND_DIR / "var" / "mail").as_uri(), repr=False)
    mail_from: str = "py-auth <no-reply@localhost>"
    # The base of the links in mail (https://auth.example.com); None: the address the request
    # was served on.
    public_url: str | None = None

    @field_validator("mail_url")
    @classmethod
    def _mail_url_is_supported(cls, value: str) -> str:
        # Imported here, with the mail settings they check.
        from urllib.parse import parse_qsl, urlsplit

        # The messages never repeat the URL: it may hold a password.
        url = urlsplit(value)
        if url.scheme == "file":
            if url.netloc or not url.path.startswith("/") or url.query or url.fragment:
                raise ValueError("a folder is written file:///absolute/path")
            return value
        if url.scheme not in ("smtp", "smtps"):
            raise ValueError(
                "not smtp://[user:pass@]host:port[?tls=off], smtps://[user:pass@]host:port "
                "or file:///absolute/path"
            )
        try:
            port = url.port
        except ValueError:
            port = None
        if not url.hostname or not port or url.path not in ("", "/") or url.fragment:
            raise ValueError(f"{url.scheme}:// needs a host and a port, like host:587")
        if (url.username is None) != (url.password is None):
            raise ValueError("credentials are written user:password@ (percent-encoded)")
        options = parse_qsl(url.query, keep_blank_values=True)
        tls_off = url.scheme == "smtp" and options == [("tls", "off")]
        if options and not tls_off:
            raise ValueError("the only option is ?tls=off, on smtp://")
        if tls_off and url.username is not None:
            raise ValueError("with tls=off the credentials would cross the network unencrypted")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from_is_one_address(cls, value: str) -> str:
        from email import policy

        try:
            header = policy.default.header_factory("From", value)
        except Exception:  # the header parser has more ways to fail than it documents
            header = None
        if (
            header is None
            or header.defects
            or len(header.addresses) != 1
            or not header.addresses[0].domain
        ):
            raise ValueError("one address on one line, like 'py-auth <no-reply@example.com>'")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_a_base(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if not value:
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise ValueError("an http(s) address without query, like https://auth.example.com")
        # Links are the base plus a path that starts with a slash.
        return value.rstrip("/")

    cors_origins: Annotated[list[str], NoDecode] = []
    # Proxies whose X-Forwarded-For is believed (IPs or CIDR networks, comma-separated).
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    hsts_enabled: bool = False
    # Browser clients keep the refresh token in a Secure cookie; false only for local http.
    cookie_secure: bool = True

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    # GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`, and 404 while unset.
    metrics_token: SecretStr | None = None

    @field_validator("jwt_algorithm", mode="before")
    @classmethod
    def _one_algorithm(cls, value: object) -> object:
        if not isinstance(value, str) or "," not in value:
            return value
        names = [name.strip() for name in value.split(",") if name.strip()]
        if {*names} & {*HMAC_ALGORITHMS} and {*names} & {*ASYMMETRIC_ALGORITHMS}:
            raise ValueError(
                f"{value!r} mixes HMAC and asymmetric algorithms: a verifier that accepts both "
                "can be made to check an HMAC signature with a public key as the secret "
                "(algorithm confusion). Choose one, e.g. RS256"
            )
        raise ValueError(f"{value!r}: one algorithm only, pinned when tokens are checked")

    @property
    def uses_signing_keys(self) -> bool:
        """Tokens are signed with the asymmetric keys of the signing_keys table, published at
        /.well-known/jwks.json; otherwise with an HMAC key derived from JWT_SECRET."""
        return self.jwt_algorithm in ASYMMETRIC_ALGORITHMS

    @property
    def token_issuer(self) -> str:
        """The `iss` of access tokens and the `issuer` of the metadata: PUBLIC_URL when set
        (RFC 8414 wants a URL), else JWT_ISSUER."""
        return self.public_url or self.jwt_issuer

    @property
    def key_publish_lead_seconds(self) -> int:
        """How long a new key is published before it signs: every cache of the key set that
        honours max-age, and every process of py-auth, has read it by then."""
        return self.jwks_max_age_seconds + self.key_reload_seconds

    @model_validator(mode="after")
    def _one_issuer(self) -> "Settings":
        if (
            self.public_url
            and "jwt_issuer" in self.model_fields_set
            and self.jwt_issuer != self.public_url
        ):
            raise ValueError(
                "JWT_ISSUER and PUBLIC_URL differ: with PUBLIC_URL set, the issuer is "
                "PUBLIC_URL (RFC 8414); leave JWT_ISSUER unset"
            )
        return self

    @field_validator("jwt_secret")
    @classmethod
    def _secret_is_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _encryption_keys_decode(cls, value: SecretStr | None) -> SecretStr | None:
        from app.core.sealing import decode_encryption_key

        if value is None or not value.get_secret_value().strip():
            return None
        for key in value.get_secret_value().split(","):
            decode_encryption_key(key.strip())
        return value

    def encryption_key_list(self) -> list[str]:
        if self.encryption_keys is None:
            return []
        return [key.strip() for key in self.encryption_keys.get_secret_value().split(",")]

    @field_validator("auth_rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        if value.strip():
            try:
                parse(value)
            except ValueError as exc:
                raise ValueError(f"not a rate limit like '30/minute': {exc}") from None
        return value

    @field_validator("mfa_required_permissions", mode="before")
    @classmethod
    def _split_permissions(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        # Credentials (the Authorization header) must never be allowed from any origin.
        if "*" in value:
            raise ValueError("'*' is not allowed: list the origins that may call the API")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(env_file: Path | None = ENV_FILE) -> Settings:
    """Read the settings, or fail with a message that says what to do."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]).upper()
            if field == "JWT_SECRET":
                problems.append(
                    f"JWT_SECRET {'is missing' if error['type'] == 'missing' else error['msg']}: "
                    "generate one with\n"
                    "    python -c 'import secrets; print(secrets.token_urlsafe(64))'\n"
                    "  and set it in the environment or in backend/.env (`make run` writes one)."
                )
            else:
                problems.append(f"{field}: {error['msg']}")
        raise SettingsError("py-auth cannot start:\n  " + "\n  ".join(problems)) from None
