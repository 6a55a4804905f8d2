"""GET /metrics: Prometheus text with request counts and latencies by route template and
status, login, refresh and lockout outcomes, and the database pool; served only to the bearer
of METRICS_TOKEN, and not at all (404) until one is set.

The counters belong to the process (prometheus-client's registry), so each test compares a
scrape after its requests with one before, made through an app of its own that has a token:
it sees the requests of every app of the process."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import WRONG_PASSWORD, attempt_login, bearer, client_of, fresh_app, login

Labels = dict[str, str]
METRICS_TOKEN = "scrape-me-0123456789"


@pytest.fixture
async def scraper(database_url, clean_database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with METRICS_TOKEN set."""
    async with (
        fresh_app(database_url, metrics_token=METRICS_TOKEN) as application,
        client_of(application) as http,
    ):
        yield http


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, frozenset[Any]], float]:
    response = await http.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


class Metrics:
    """Scrapes before and after: `await metrics.delta("name", label=value)`."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.before: dict[tuple[str, frozenset[Any]], float] = {}

    async def start(self) -> "Metrics":
        self.before = await scrape(self.http)
        return self

    async def delta(self, name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return (await scrape(self.http)).get(key, 0.0) - self.before.get(key, 0.0)


@pytest.fixture
async def metrics(scraper) -> Metrics:
    return await Metrics(scraper).start()


async def test_metrics_are_not_served_until_a_token_is_set(client, make_user, auth_headers):
    # Read around a login, the login counter would tell an unknown email from a wrong
    # password, which the login's identical 401s do not tell.
    user_headers = await auth_headers(await make_user(roles=["admin"]))
    for headers in ({}, bearer(""), bearer(METRICS_TOKEN), user_headers):
        response = await client.get("/metrics", headers=headers)

        assert response.status_code == 404, headers
        assert response.json()["code"] == "not_found"


async def test_metrics_are_prometheus_text(scraper):
    response = await scraper.get("/metrics", headers=bearer(METRICS_TOKEN))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "http_requests",
        "http_request_duration_seconds",
        "auth_logins",
        "auth_refreshes",
        "auth_lockouts",
        "db_pool_connections_in_use",
    } <= names


async def test_requests_are_counted_by_route_template_and_status(
    client, metrics, make_user, auth_headers
):
    headers = await auth_headers(await make_user())

    for article_id in (424242, 424243):
        assert (await client.get(f"/articles/{article_id}", headers=headers)).status_code == 404
    assert (await client.get("/articles/1")).status_code == 401

    route = "/articles/{article_id}"
    assert await metrics.delta("http_requests_total", method="GET", route=route, status="404") == 2
    assert await metrics.delta("http_requests_total", method="GET", route=route, status="401") == 1
    latency = "http_request_duration_seconds_count"
    assert await metrics.delta(latency, method="GET", route=route) == 3
    # No series per id: the template stands for all of them.
    assert (
        await metrics.delta(
            "http_requests_total", method="GET", route="/articles/424242", status="404"
        )
        == 0
    )


async def test_unknown_paths_and_odd_methods_share_one_series(client, metrics):
    await client.get("/no/such/path/1")
    await client.get("/no/such/path/2")
    await client.request("PROPFIND", "/health")

    assert (
        await metrics.delta("http_requests_total", method="GET", route="unmatched", status="404")
        == 2
    )
    assert (
        await metrics.delta("http_requests_total", method="OTHER", route="/health", status="405")
        == 1
    )


async def test_probes_are_counted(client, metrics):
    await client.get("/health")
    await client.get("/ready")

    assert (
        await metrics.delta("http_requests_total", method="GET", route="/health", status="200") == 1
    )
    assert (
        await metrics.delta("http_requests_total", method="GET", route="/ready", status="200") == 1
    )


async def test_pages_and_static_files_are_counted_by_their_route(client, metrics):
    await client.get("/openapi.json")
    await client.get("/static/docs/swagger-ui.css")

    assert (
        await metrics.delta(
            "http_requests_total", method="GET", route="/openapi.json", status="200"
        )
        == 1
    )
    assert (
        await metrics.delta(
            "http_requests_total", method="GET", route="/static/docs/{path}", status="200"
        )
        == 1
    )


async def test_login_outcomes_are_counted_by_reason(client, metrics, make_user):
    user = await make_user()
    inactive = await make_user(is_active=False)

    await login(client, user.email)
    await attempt_login(client, user.email, WRONG_PASSWORD)
    await attempt_login(client, "nobody@example.com")
    await attempt_login(client, inactive.email)

    for outcome in ("success", "bad_password", "unknown_email", "inactive"):
        assert await metrics.delta("auth_logins_total", outcome=outcome) == 1, outcome


async def test_a_lockout_is_counted_and_so_are_the_logins_it_refuses(
    client, metrics, make_user, settings
):
    user = await make_user()
    for _ in range(settings.login_max_failures):
        await attempt_login(client, user.email, WRONG_PASSWORD)

    refused = await attempt_login(client, user.email)

    assert refused.status_code == 429
    assert await metrics.delta("auth_lockouts_total") == 1
    assert await metrics.delta("auth_logins_total", outcome="throttled") == 1


async def test_refresh_outcomes_are_counted(client, metrics, make_user, settings, clock):
    user = await make_user()
    first = await login(client, user.email)
    rotated = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.json()["code"] == "token_revoked"
    second = await login(client, user.email)
    clock.advance(days=settings.refresh_token_days, minutes=1)
    expired = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert expired.json()["code"] == "token_expired"

    for outcome in ("rotated", "reused", "expired"):
        assert await metrics.delta("auth_refreshes_total", outcome=outcome) == 1, outcome


async def test_the_pool_gauge_shows_the_connections_in_use(database_url):
    async with (
        fresh_app(database_url, metrics_token=METRICS_TOKEN) as application,
        client_of(application) as http,
    ):
        idle = await scrape(http)
        async with application.state.database.engine.connect():
            busy = await scrape(http)

    gauge = ("db_pool_connections_in_use", frozenset())
    assert busy[gauge] == idle[gauge] + 1


async def test_metrics_need_the_token_once_one_is_set(scraper, make_user, auth_headers):
    user_headers = await auth_headers(await make_user(roles=["admin"]))
    for headers in ({}, bearer("wrong"), {"Authorization": METRICS_TOKEN}, user_headers):
        response = await scraper.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    for scheme in ("Bearer", "bearer"):
        response = await scraper.get(
            "/metrics", headers={"Authorization": f"{scheme} {METRICS_TOKEN}"}
        )
        assert response.status_code == 200, scheme
        assert "http_requests_total" in response.text


async def test_an_empty_token_does_not_turn_metrics_on(database_url):
    # `METRICS_TOKEN=` in backend/.env is unset, not a token that "Bearer " would match.
    async with (
        fresh_app(database_url, metrics_token="") as application,
        client_of(application) as http,
    ):
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer"}):
            response = await http.get("/metrics", headers=headers)

            assert response.status_code == 404, headers


async def test_metrics_hold_no_user_data(client, scraper, make_user):
    user = await make_user(email="private-person@example.com")
    tokens = await login(client, user.email)
    await client.get(f"/users/{user.id}", headers=bearer(tokens["access_token"]))

    text = (await scraper.get("/metrics", headers=bearer(METRICS_TOKEN))).text

    for private in (
        user.email,
        tokens["access_token"],
        tokens["refresh_token"],
        f"/users/{user.id}",
    ):
        assert private not in text
