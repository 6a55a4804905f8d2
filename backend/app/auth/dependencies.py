"""What routes inject: the caller, permission checks, and the auth services of the app."""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import OAuth2PasswordBearer

from app.audit_log import writer as audit_log
from app.auth.caller import load_principal
from app.auth.exceptions import MfaEnrollmentRequired, NotOwner, StepUpRequired, TokenNotAllowed
from app.auth.pat_caller import load_token_caller, record_refusal
from app.auth.pat_format import looks_like_personal_access_token
from app.auth.schemas import Principal, may_act_on
from app.core.app_state import (
    access_tokens_of,
    database_of,
    password_hasher_of,
    sealer_of,
    settings_of,
)
from app.core.clock import utcnow
from app.core.context import client_context
from app.core.database import SessionDep
from app.core.errors import InvalidToken, NotAuthenticated, PermissionDenied
from app.core.sealing import Sealer
from app.core.security import AccessClaims, AccessTokenCodec, PasswordHasher, UnknownSigningKey

# Reads "Authorization: Bearer ..." and makes the Authorize button of /docs log in.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def get_access_tokens(request: Request) -> AccessTokenCodec:
    codec = access_tokens_of(request)
    if codec.keys is not None:
        # Read at startup (the lifespan); an app served without one reads it at first use.
        await codec.keys.ensure_loaded()
    return codec


async def get_password_hasher(request: Request) -> PasswordHasher:
    return password_hasher_of(request)


async def get_sealer(request: Request) -> Sealer:
    return sealer_of(request)


AccessTokensDep = Annotated[AccessTokenCodec, Depends(get_access_tokens)]
SealerDep = Annotated[Sealer, Depends(get_sealer)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


_CALLER_KEY = "py_auth.caller"


async def _load_caller(request: Request, token: str | None) -> Principal:
    # Once per request, whichever of the route's caller dependencies asks first (its
    # permission check and, say, a step-up check are dependencies of their own). Kept in the
    # request's scope, which no other request shares (its "state" is the lifespan's, copied).
    loaded: Principal | None = request.scope.get(_CALLER_KEY)
    if loaded is not None:
        return loaded
    if not token:
        raise NotAuthenticated()
    # The codec from the app's state, not a dependency of its own: one layer less for FastAPI
    # to resolve on every request (BENCHMARKS.md, per-request cost).
    access_tokens = await get_access_tokens(request)
    database = database_of(request)
    if looks_like_personal_access_token(token):
        # A malformed one is refused before any query (app.auth.pat_format).
        principal = await load_token_caller(database, await client_context(request), token)
    else:
        claims = await decode_access_token(access_tokens, token)
        principal = await load_principal(database, claims.user_id, claims.session_id, claims=claims)
    if principal is None or not principal.is_active:
        raise InvalidToken("The access token is no longer valid.")
    request.scope[_CALLER_KEY] = principal
    request.state.user_id = principal.id  # for the request log line
    return principal


async def get_current_user(request: Request, token: str | None) -> Principal:
    """The caller, loaded fresh from the database (one query): 401 unless the token is valid,
    its session is live and the user exists and is active. Its dependency is ``CurrentUser``;
    the caller is loaded once per request (``_load_caller``), however many of the route's
    dependencies ask for it.

    The query runs outside the request's transaction (Database.fetch): a request that only
    needs the caller (GET /users/me) costs one round trip, no BEGIN, no COMMIT.

    A caller holding any of MFA_REQUIRED_PERMISSIONS must have a second factor: until they
    enroll, nothing but enrolling (``get_enrolling_user``) works (403).
    """
    principal = await _load_caller(request, token)
    required = settings_of(request).mfa_required_permissions
    if (
        required
        and principal.credential == "session"  # tokens are made by a session, once enrolled
        and not principal.mfa_enabled
        and not required.isdisjoint(principal.permissions)
    ):
        raise MfaEnrollmentRequired()
    return principal


async def get_enrolling_user(request: Request, token: str | None) -> Principal:
    """The caller, as ``get_current_user`` loads them, whether or not they must still enroll
    a second factor: for the routes that enroll one (and reauthentication), which only a
    login may call (403 token_not_allowed for a token)."""
    principal = await _load_caller(request, token)
    if principal.credential != "session":
        await _refuse_token(request, principal)
    return principal


async def decode_access_token(access_tokens: AccessTokenCodec, token: str) -> AccessClaims:
    """The token's claims. A kid this process does not know may be a key that another
    process has just made: the key set is read again (at most once a second), then the token
    decoded once more."""
    try:
        return access_tokens.decode(token)
    except UnknownSigningKey as unknown:
        assert access_tokens.keys is not None  # only a key ring raises it
        if not await access_tokens.keys.knows_after_reload(unknown.kid):
            raise InvalidToken() from None
    return access_tokens.decode(token)


class CallerScheme(OAuth2PasswordBearer):
    """The API's bearer scheme, and the dependency that loads the caller from its token and
    checks their permissions.

    One dependency, not a check depending on a loader depending on the scheme: each dependency
    FastAPI resolves costs every request that uses it, a twentieth of GET /users/me for each
    (BENCHMARKS.md, item 22). As a security scheme it is what OpenAPI documents: the Authorize
    button of /docs logs in through /auth/login, and its token is sent as "Authorization:
    Bearer ...". ``required_permissions`` is read by route_requirements (the OpenAPI document,
    the policy, the deny-by-default test).
    """

    def __init__(self, *, enrolling: bool = False, permissions: tuple[str, ...] = ()) -> None:
        super().__init__(
            tokenUrl="/auth/login", scheme_name="OAuth2PasswordBearer", auto_error=False
        )
        self._load = get_enrolling_user if enrolling else get_current_user
        self.required_permissions = permissions

    # The scheme's own call answers the token; this one, the caller loaded with it.
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        user = await self._load(request, await super().__call__(request))
        if missing := missing_permissions(self.required_permissions, user.permissions):
            await _record_denial(request, user, missing)
            raise PermissionDenied(f"Missing permission: {', '.join(missing)}.", missing=missing)
        return user


current_user = CallerScheme()
enrolling_user = CallerScheme(enrolling=True)
CurrentUser = Annotated[Principal, Depends(current_user)]
EnrollingUser = Annotated[Principal, Depends(enrolling_user)]


async def get_interactive_user(user: CurrentUser, request: Request) -> Principal:
    """The caller, if they logged in (an access token of a session): a personal access token
    or a service account's token may not create tokens, change the password, email or MFA,
    or log out everywhere (403 token_not_allowed, audited)."""
    if user.credential != "session":
        await _refuse_token(request, user)
    return user


async def _refuse_token(request: Request, user: Principal) -> NoReturn:
    route = f"{request.method} {_route_path(request)}"
    if user.token_prefix is not None:
        await record_refusal(
            database_of(request),
            await client_context(request),
            user.id,
            user.token_prefix,
            "token_not_allowed",
            route,
        )
    else:
        await _record_denial(request, user, [], reason="token_not_allowed")
    raise TokenNotAllowed()


InteractiveUser = Annotated[Principal, Depends(get_interactive_user)]


@dataclass(frozen=True, slots=True)
class Ownership:
    """A route acts on the caller's own objects with ``own``, on anyone's with ``any``."""

    own: str
    any: str


def missing_permissions(required: Iterable[str], held: frozenset[str]) -> list[str]:
    """The required permissions a caller lacks: the one rule behind every permission check,
    and behind POST /authz/explain."""
    return [name for name in required if name not in held]


def require_permission(*names: str) -> Any:
    """Depends on a caller who holds every one of these permissions, else 403 (audited)."""
    return Depends(CallerScheme(permissions=names))


def owned_or_any(
    *,
    own: str,
    any_: str,
    load: Callable[..., Awaitable[Any]],
    owner_of: Callable[[Any], int | None],
    noun: str,
) -> Any:
    """Depends on the object a caller may act on: their own with ``own``, anyone's with
    ``any_`` (OWASP API1:2023, object-level authorization).

    ``load`` (itself a dependency: a path id to an object, or 404) runs after the permission
    check, so the answers come in the order anonymous 401, missing permission 403, not found
    404. Someone else's object is a 403 ``not_owner``, audited: the object is readable, so its
    existence is no secret. Use it as ``Annotated[Article, owned_or_any(...)]``.
    """

    async def check(
        user: Annotated[Principal, require_permission(own)],
        request: Request,
        target: Annotated[Any, Depends(load)],
        session: SessionDep,
    ) -> Any:
        if not may_act_on(user, owner_of(target), any_):
            # The loader has opened the request's transaction (on SQLite, holding the write
            # lock): the refusal is recorded there, and NotOwner commits it.
            await audit_log.record_denial(
                session,
                await client_context(request),
                actor_id=user.id,
                route=f"{request.method} {_route_path(request)}",
                missing=[any_],
                reason="not_owner",
            )
            raise NotOwner(noun, any_)
        return target

    # Read by route_requirements (the OpenAPI document, the policy) and the order test: the
    # permission check inside runs before the loader.
    check.ownership = Ownership(own=own, any=any_)  # type: ignore[attr-defined]
    check.required_permissions = (own,)  # type: ignore[attr-defined]
    return Depends(check)


def _route_path(request: Request) -> str:
    return str(getattr(request.scope.get("route"), "path", request.url.path))


async def _record_denial(
    request: Request, user: Principal, missing: list[str], *, reason: str | None = None
) -> None:
    """The refusal, in the audit log (one row per caller, route and minute), in a
    transaction of its own: a granted request (the common case) then needs no session at all,
    and the record survives the refusal."""
    database = database_of(request)
    async with database.sessionmaker() as session:
        await audit_log.record_denial(
            session,
            await client_context(request),
            actor_id=user.id,
            route=f"{request.method} {_route_path(request)}",
            missing=missing,
            reason=reason,
            token_prefix=user.token_prefix,
        )
        await session.commit()


def require_recent_auth(max_age: int | None = None, *, enrolling: bool = False) -> Any:
    """Depends on a caller who proved who they are within ``max_age`` seconds (default
    STEP_UP_MAX_AGE_SECONDS), by the token's auth_time; else 401
    insufficient_user_authentication (RFC 9470), and POST /auth/reauthenticate gives a fresh
    token. A stolen access token cannot make the account-changing requests it guards.
    ``enrolling``: for the routes that a caller who must still enroll may use."""
    caller = enrolling_user if enrolling else current_user

    async def check(user: Annotated[Principal, Depends(caller)], request: Request) -> Principal:
        if user.credential != "session":
            await _refuse_token(request, user)  # a token never signed in: 403, not step-up
        limit = max_age or settings_of(request).step_up_max_age_seconds
        if user.auth_time is None or (utcnow() - user.auth_time).total_seconds() > limit:
            raise StepUpRequired(limit)
        return user

    check.recent_auth = True  # type: ignore[attr-defined]
    return Depends(check)


# The caller, authenticated recently (STEP_UP_MAX_AGE_SECONDS): for account-changing routes.
RecentUser = Annotated[Principal, require_recent_auth()]
RecentEnrollingUser = Annotated[Principal, require_recent_auth(enrolling=True)]


def require_role(*names: str) -> Any:
    """Depends on a caller who holds every one of these roles, else 403.

    For completeness only: py-auth checks permissions, so that what a role may do lives in
    the database, not in code.
    """

    async def check(user: CurrentUser) -> Principal:
        missing = [name for name in names if name not in user.roles]
        if missing:
            raise PermissionDenied(f"Missing role: {', '.join(missing)}.", missing_roles=missing)
        return user

    return Depends(check)


@dataclass(frozen=True, slots=True)
class RouteRequirements:
    """What a route asks of its caller, read from its dependencies (the code that enforces it)."""

    authenticated: bool
    permissions: tuple[str, ...]
    ownership: Ownership | None = None
    # The caller must have proved who they are recently (require_recent_auth).
    recent_auth: bool = False


def route_requirements(dependant: Dependant) -> RouteRequirements:
    """Whether a route needs an authenticated caller, the permissions it requires, and whether
    it acts on the caller's own objects only (unless they hold the "any" permission)."""
    authenticated = False
    permissions: list[str] = []
    ownership: Ownership | None = None
    recent_auth = False
    pending = [dependant]
    while pending:
        current = pending.pop()
        # A dependency that authenticates its caller another way too (introspection: a service
        # account's client credentials) says so with `authenticates`.
        if isinstance(current.call, CallerScheme) or getattr(current.call, "authenticates", False):
            authenticated = True
        permissions.extend(getattr(current.call, "required_permissions", ()))
        ownership = getattr(current.call, "ownership", None) or ownership
        recent_auth = recent_auth or getattr(current.call, "recent_auth", False)
        pending.extend(current.dependencies)
    return RouteRequirements(
        authenticated, tuple(dict.fromkeys(permissions)), ownership, recent_auth
    )
