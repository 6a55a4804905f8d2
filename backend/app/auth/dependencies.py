"""What routes inject: the caller, permission checks, and the auth services of the app."""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import OAuth2PasswordBearer

from app.audit_log import writer as audit_log
from app.auth.caller import load_principal
from app.auth.exceptions import NotOwner, TokenNotAllowed
from app.auth.pat_caller import load_token_caller, record_refusal
from app.auth.pat_format import looks_like_personal_access_token
from app.auth.schemas import Principal, may_act_on
from app.core.app_state import access_tokens_of, database_of, password_hasher_of
from app.core.context import client_context
from app.core.database import SessionDep
from app.core.errors import InvalidToken, NotAuthenticated, PermissionDenied
from app.core.security import AccessTokenCodec, PasswordHasher

# Reads "Authorization: Bearer ..." and makes the Authorize button of /docs log in.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def get_access_tokens(request: Request) -> AccessTokenCodec:
    return access_tokens_of(request)


async def get_password_hasher(request: Request) -> PasswordHasher:
    return password_hasher_of(request)


AccessTokensDep = Annotated[AccessTokenCodec, Depends(get_access_tokens)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


async def get_current_user(
    request: Request,
    access_tokens: AccessTokensDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The caller, loaded fresh from the database (one query): 401 unless the token is valid,
    its session is live and the user exists and is active. FastAPI runs this once per
    request, however many dependencies ask for it.

    The query runs outside the request's transaction (Database.fetch): a request that only
    needs the caller (GET /users/me) costs one round trip, no BEGIN, no COMMIT.
    """
    if not token:
        raise NotAuthenticated()
    database = database_of(request)
    if looks_like_personal_access_token(token):
        # A malformed one is refused before any query (app.auth.pat_format).
        principal = await load_token_caller(database, await client_context(request), token)
    else:
        claims = access_tokens.decode(token)
        principal = await load_principal(database, claims.user_id, claims.session_id)
    if principal is None or not principal.is_active:
        raise InvalidToken("The access token is no longer valid.")
    request.state.user_id = principal.id  # for the request log line
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_interactive_user(user: CurrentUser, request: Request) -> Principal:
    """The caller, if they logged in (an access token of a session): a personal access token
    or a service account's token may not create tokens, change the password, email or MFA,
    or log out everywhere (403 token_not_allowed, audited)."""
    if user.credential != "session":
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
    return user


InteractiveUser = Annotated[Principal, Depends(get_interactive_user)]

PrincipalCheck = Callable[..., Awaitable[Principal]]


def _mark(
    check: PrincipalCheck, *, permissions: tuple[str, ...] = (), roles: tuple[str, ...] = ()
) -> Any:
    # Read by the OpenAPI annotator and by the deny-by-default test.
    check.required_permissions = permissions  # type: ignore[attr-defined]
    check.required_roles = roles  # type: ignore[attr-defined]
    return Depends(check)


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

    async def check(user: CurrentUser, request: Request) -> Principal:
        if missing := missing_permissions(names, user.permissions):
            await _record_denial(request, user, missing)
            raise PermissionDenied(f"Missing permission: {', '.join(missing)}.", missing=missing)
        return user

    return _mark(check, permissions=names)


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

    return _mark(check, roles=names)


@dataclass(frozen=True, slots=True)
class RouteRequirements:
    """What a route asks of its caller, read from its dependencies (the code that enforces it)."""

    authenticated: bool
    permissions: tuple[str, ...]
    ownership: Ownership | None = None


def route_requirements(dependant: Dependant) -> RouteRequirements:
    """Whether a route needs an authenticated caller, the permissions it requires, and whether
    it acts on the caller's own objects only (unless they hold the "any" permission)."""
    authenticated = False
    permissions: list[str] = []
    ownership: Ownership | None = None
    pending = [dependant]
    while pending:
        current = pending.pop()
        # A dependency that authenticates its caller another way too (introspection: a service
        # account's client credentials) says so with `authenticates`.
        if current.call is get_current_user or getattr(current.call, "authenticates", False):
            authenticated = True
        permissions.extend(getattr(current.call, "required_permissions", ()))
        ownership = getattr(current.call, "ownership", None) or ownership
        pending.extend(current.dependencies)
    return RouteRequirements(authenticated, tuple(dict.fromkeys(permissions)), ownership)
