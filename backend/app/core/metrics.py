"""Prometheus metrics of this process, and the /metrics endpoint that serves them.

Each process keeps its own counters (scrape every process, or every pod): nothing here needs
to be shared, since Prometheus adds them up.
"""

import hmac
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Metric
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from app.core.app_state import settings_of
from app.core.errors import NotAuthenticated, NotFound

REGISTRY = CollectorRegistry()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics(Collector):
    """http_requests_total and http_request_duration_seconds, by method, route template and
    status.

    Counted on every request, so kept as plain numbers that the event loop's thread alone
    updates (no lock, no label lookup): prometheus-client's Counter and Histogram cost two
    microseconds a request, a tenth of what the middleware may cost (BENCHMARKS.md). Turned
    into Prometheus families only when /metrics is scraped.
    """

    def __init__(self) -> None:
        # Per (method, route, status): one count per latency bucket (not cumulative), then
        # +Inf, then the sum of the latencies. The request count is the buckets' total.
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[method, route, status] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        series[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "http_requests",
            "HTTP requests by route template and status.",
            labels=["method", "route", "status"],
        )
        # The histogram is by method and route: the statuses' series, added up.
        by_route: dict[tuple[str, str], list[float]] = {}
        for (method, route, status), series in list(self._series.items()):
            counts = list(series)
            requests.add_metric([method, route, str(status)], sum(counts[:-1]))
            total = by_route.setdefault((method, route), [0.0] * len(counts))
            total[:] = map(sum, zip(total, counts, strict=True))
        yield requests
        latency = HistogramMetricFamily(
            "http_request_duration_seconds",
            "HTTP request latency by route template.",
            labels=["method", "route"],
        )
        for (method, route), counts in by_route.items():
            cumulative = list(accumulate(counts[:-1]))
            buckets = [
                (bound, cumulative[index])
                for index, bound in enumerate([*map(str, LATENCY_BUCKETS), "+Inf"])
            ]
            latency.add_metric([method, route], buckets, sum_value=counts[-1])
        yield latency


HTTP_METRICS = RequestMetrics()
REGISTRY.register(HTTP_METRICS)

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
    """Prometheus metrics, for `Authorization: Bearer <METRICS_TOKEN>`; 404 while no token is
    set. Never open: read around a login, the login outcomes would tell an unknown email from a
    wrong password, which the login's identical 401s do not."""
    settings = settings_of(request)
    expected = settings.metrics_token.get_secret_value().strip() if settings.metrics_token else ""
    if not expected:
        raise NotFound()
    scheme, _, presented = (authorization or "").partition(" ")
    # The scheme is case-insensitive (RFC 7235); the token alone is not a credential.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise NotAuthenticated()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
