"""The application factory. Run with `uvicorn --factory app.main:create_app`."""

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.engine import make_url

from app.articles.router import router as articles_router
from app.audit.router import router as audit_router
from app.auth import mfa
from app.auth.accounts import check_default_role
from app.auth.dependencies import route_requirements
from app.auth.router import router as auth_router
from app.auth.token_router import token_router as auth_token_router
from app.authz.router import router as authz_router
from app.authz.service import check_policy
from app.core.client_address import ClientAddress
from app.core.config import Settings, load_settings
from app.core.database import Database
from app.core.docs import install_docs
from app.core.errors import ErrorBody, ValidationErrorBody, install_error_handlers
from app.core.health import router as health_router
from app.core.logging import configure_logging
from app.core.metrics import router as metrics_router
from app.core.metrics import watch_pool
from app.core.middleware import QUIET_ROUTES, RequestContextMiddleware
from app.core.rate_limit import ClientRateLimiter
from app.core.routing import literal_prefix_first, move_to_front
from app.core.sealing import Sealer
from app.core.security import AccessTokenCodec, PasswordHasher
from app.core.signing_keys import KeyRing
from app.keys.router import router as keys_router
from app.keys.service import KeySource
from app.mail.mailer import Mailer
from app.roles.router import router as roles_router
from app.service_accounts.router import router as service_accounts_router
from app.tokens.router import router as tokens_router
from app.ui import install_ui
from app.users.mfa_router import mfa_router as users_mfa_router
from app.users.router import router as users_router

logger = logging.getLogger("app")

# Where OpenTelemetry's OTLP exporter sends traces; either one turns tracing on.
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

DESCRIPTION = (
    "Authentication and permission-based authorization: short-lived JWT access tokens "
    "carrying identity only, rotating opaque refresh tokens, and permissions read from the "
    "database on every request."
)


# Every router of the API, in the order requests are matched against their routes.
ROUTERS = (
    health_router,
    keys_router,
    auth_token_router,
    metrics_router,
    auth_router,
    users_router,
    users_mfa_router,
    tokens_router,
    service_accounts_router,
    articles_router,
    roles_router,
    audit_router,
    authz_router,
)


# Matched first (app.core.routing): what every client, probe and session calls most. The
# cheapest first: a route ahead of another costs it a miss, a larger share of a cheap request.
HOT_PATHS = ("/health", "/users/me", "/auth/refresh", "/articles")
# Allocations between two collections of the youngest generation (see the lifespan).
YOUNG_COLLECTION_THRESHOLD = 10_000


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await check_default_role(app.state.database, settings)
        await mfa.check_required_permissions(app.state.database, settings)
        await check_policy(app.state.database, app.routes)
        key_ring: KeyRing | None = app.state.access_tokens.keys
        reloading = None
        if key_ring is not None:
            # The first key is made, or the set rotated when due, before the first request.
            await key_ring.reload()
            reloading = asyncio.create_task(_reload_keys(key_ring, settings.key_reload_seconds))
        # The back end's name only: the URL may hold a password.
        database = make_url(settings.database_url).get_backend_name()
        logger.info(
            "py-auth started",
            extra={
                "fields": {
                    "event": "startup",
                    "database": database,
                    "log_level": settings.log_level,
                }
            },
        )
        # What exists now (modules, routes, models, settings) lives as long as the process.
        # Frozen, the cyclic garbage collector stops walking it on every full collection:
        # under load those walks paused the event loop for tens of milliseconds and took a
        # fifth of the throughput of GET /users/me (BENCHMARKS.md).
        gc.freeze()
        # A young collection every 700 allocations (Python's default) found next to no garbage
        # under load: the objects of the requests in flight, walked again and again, for 8% of
        # GET /users/me's throughput side by side (BENCHMARKS.md, item 22). Cycles are still
        # collected, in rounds about ten times as large.
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        yield
        # uvicorn runs this on SIGTERM once the requests in flight have finished.
        if reloading is not None:
            reloading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reloading
        await app.state.mailer.close()
        await app.state.database.dispose()
        logger.info("database pool closed", extra={"fields": {"event": "shutdown"}})

    app = FastAPI(
        title="py-auth",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=telemetry_config(os.environ),
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
        # Starlette would redirect /users/ to /users with a Location built from the Host
        # header, which the client chooses: the path is not found instead (the console's /ui
        # redirects itself, app/ui).
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.password_hasher = PasswordHasher(settings)
    app.state.sealer = Sealer(settings)
    key_ring = None
    if settings.uses_signing_keys:
        source = KeySource(app.state.database, app.state.sealer, settings)
        key_ring = KeyRing(settings.jwt_algorithm, source)
    app.state.access_tokens = AccessTokenCodec(settings, key_ring)
    app.state.mailer = Mailer(settings)
    app.state.client_address = ClientAddress(settings.trusted_proxies)
    app.state.rate_limiter = ClientRateLimiter(
        settings.auth_rate_limit, settings.rate_limit_storage_url
    )

    watch_pool(app.state.database.connections_in_use)

    install_error_handlers(app)
    add_routes(app, *ROUTERS)
    move_to_front(app.router.routes, HOT_PATHS)
    install_docs(app)
    install_ui(app)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Request-ID",
                "X-Client",  # browser clients opt in to the cookie transport
                "X-CSRF-Token",
            ],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        client_address=app.state.client_address,
        hsts=settings.hsts_enabled,
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_security(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _reload_keys(key_ring: KeyRing, interval: float) -> None:
    """Read the key set every `interval` seconds (rotating it when due), so that this process
    signs with the key every other process signs with. A failed read (the database away) is
    logged and tried again at the next turn; the ring keeps the set it has."""
    while True:
        await asyncio.sleep(interval)
        try:
            await key_ring.reload()
        except Exception:
            logger.exception(
                "the signing keys could not be read",
                extra={"fields": {"event": "keys_reload_failed"}},
            )


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """The routes of each router, made anew on the app's own router.

    Since FastAPI 0.137, include_router keeps an included router as a node of the route tree
    that every request walks through: it cost /health a fifth of its time (BENCHMARKS.md). Made
    anew here, as include_router itself did before, each route belongs to this app (its
    dependency_overrides apply) and to no other. Each of our routers sets its prefix, tags,
    dependencies and route class itself, so its routes carry all of their configuration;
    tests/test_routes.py checks that the app documents exactly what include_router would.
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r}: add_routes takes API routes only")
            app.router.add_api_route(
                route.path,
                route.endpoint,
                response_model=route.response_model,
                status_code=route.status_code,
                tags=route.tags,
                dependencies=route.dependencies,
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=route.responses,
                deprecated=route.deprecated,
                methods=route.methods,
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema,
                response_class=route.response_class,
                name=route.name,
                route_class_override=literal_prefix_first(type(route)),
                callbacks=route.callbacks,
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=route.generate_unique_id_function,
                strict_content_type=route.strict_content_type,
                max_body_size=route.max_body_size,
                form_limits=route.form_limits,
            )


def telemetry_config(environ: Mapping[str, str]) -> TelemetryConfig:
    """FastAPI's own OpenTelemetry tracing: off unless an OTLP endpoint is set, then a span per
    request (and per dependency and endpoint), exported over OTLP/HTTP by the packages of
    requirements-otel.txt. Metrics and logs stay with Prometheus and our JSON lines, and the
    probes, called every few seconds, make no spans."""
    export = any(environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)

    def is_probe(scope: MutableMapping[str, Any]) -> bool:
        return scope.get("path") in QUIET_ROUTES

    return {
        "tracing": export,
        "metrics": False,
        "logs": False,
        "auto_configure": export,
        "exclude": is_probe,
    }


def _error_response_doc(description: str, model: type[ErrorBody] = ErrorBody) -> dict[str, Any]:
    ref = f"#/components/schemas/{model.__name__}"
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _document_security(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with each operation's permission, 401/403 and error bodies."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, ValidationErrorBody):
        components.update(
            model.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {})
        )
        components[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    # Routes of included routers are reached through their route contexts.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.include_in_schema:
            continue
        requirements = route_requirements(route.dependant)
        authenticated, permissions = requirements.authenticated, requirements.permissions
        for method in context.methods or ():
            operation = schema["paths"][context.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_response_doc("Validation error", ValidationErrorBody)
            if authenticated:
                responses["401"] = _error_response_doc("Missing, invalid or expired token")
            if permissions:
                responses["403"] = _error_response_doc("The caller lacks a required permission")
                operation["x-required-permissions"] = list(permissions)
                required = ", ".join(f"`{name}`" for name in permissions)
                operation["description"] = (
                    f"Requires permission {required}.\n\n" + operation.get("description", "")
                ).strip()
    return schema
