"""The public key set (RFC 7517) and the authorization server metadata (RFC 8414): what a
service needs to verify py-auth's access tokens without holding any secret of py-auth's."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.app_state import access_tokens_of, settings_of
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.public_url import public_base
from app.keys.schemas import AuthorizationServerMetadata, JsonWebKeySet

router = APIRouter(prefix="/.well-known", tags=["keys"])

JWKS_PATH = "/.well-known/jwks.json"
JWK_SET_MEDIA_TYPE = "application/jwk-set+json"


class JwkSetResponse(JSONResponse):
    media_type = JWK_SET_MEDIA_TYPE


def _cache_control(settings: Settings) -> str:
    return f"public, max-age={settings.jwks_max_age_seconds}"


@router.get(
    "/jwks.json",
    response_model=JsonWebKeySet,
    response_class=JwkSetResponse,
    responses={200: {"content": {JWK_SET_MEDIA_TYPE: {}}}},
)
async def jwks(request: Request) -> JwkSetResponse:
    """The public keys that verify access tokens now: the active key, the next one (published
    before it signs) and those retiring. Empty with an HMAC algorithm: that key is secret."""
    codec = access_tokens_of(request)
    keys: list[dict[str, str]] = []
    if codec.keys is not None:
        await codec.keys.ensure_loaded()
        keys = codec.keys.published(utcnow())
    return JwkSetResponse(
        JsonWebKeySet(keys=list(keys)).model_dump(),
        headers={"Cache-Control": _cache_control(settings_of(request))},
    )


@router.get("/oauth-authorization-server", response_model=AuthorizationServerMetadata)
async def authorization_server_metadata(request: Request) -> AuthorizationServerMetadata:
    """Where py-auth's endpoints and keys are. The issuer is the tokens' `iss` (PUBLIC_URL,
    when set); the endpoints are under PUBLIC_URL, or the address this process serves on."""
    settings = settings_of(request)
    base = public_base(request)
    return AuthorizationServerMetadata(
        issuer=settings.token_issuer,
        token_endpoint=f"{base}/auth/login",
        revocation_endpoint=f"{base}/auth/revoke",
        introspection_endpoint=f"{base}/auth/introspect",
        jwks_uri=f"{base}{JWKS_PATH}",
        # No authorization endpoint: no response type (RFC 8414 §2 asks for the member).
        response_types_supported=[],
        grant_types_supported=["password", "refresh_token", "client_credentials"],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
    )
