"""Prometheus metrics of this process, and the /metrics endpoint that serves them.

Each process keeps its own counters (scrape every process, or every pod): nothing here needs
to be shared, since Prometheus adds them up.
"""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from app.core.errors import NotAuthenticated, NotFound

REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
LOGINS = Counter(
    "auth_logins_total",
    "Password logins by outcome: success, bad_password, unknown_email, inactive, throttled.",
    ["outcome"],
    registry=REGISTRY,
)
REFRESHES = Counter(
    "auth_refreshes_total",
    "Refresh-token presentations by outcome: rotated, reused, expired, invalid.",
    ["outcome"],
    registry=REGISTRY,
)
LOCKOUTS = Counter("auth_lockouts_total", "Login lockouts started.", registry=REGISTRY)
DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use", "Database connections checked out of the pool.", registry=REGISTRY
)


def watch_pool(checked_out: Callable[[], int]) -> None:
    DB_POOL_IN_USE.set_function(checked_out)


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus metrics. Needs `Authorization: Bearer <METRICS_TOKEN>` when that is set."""
    settings = request.app.state.settings
    if not settings.metrics_enabled:
        raise NotFound()
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if expected:
        scheme, _, presented = (authorization or "").partition(" ")
        # The scheme is case-insensitive (RFC 7235); the token alone is not a credential.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), expected.encode()
        ):
            raise NotAuthenticated()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
