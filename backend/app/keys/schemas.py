"""What other services read to verify py-auth's tokens."""

from typing import Any

from pydantic import BaseModel


class JsonWebKeySet(BaseModel):
    """RFC 7517 §5: the public keys that verify tokens now (public members only)."""

    keys: list[dict[str, Any]]


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 §2."""

    issuer: str
    token_endpoint: str
    revocation_endpoint: str
    introspection_endpoint: str
    jwks_uri: str
    response_types_supported: list[str]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
