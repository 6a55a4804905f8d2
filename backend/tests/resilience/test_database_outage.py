"""A database outage, for real: py-auth (uvicorn in a subprocess) reaches PostgreSQL through a
proxy of the test's own, which the test cuts and restores.

While the database is away, /health answers 200, /ready 503, and every API call 503
`service_unavailable` within DB_TIMEOUT_SECONDS: never a 500, never a hang. Once it is back,
the same process serves again. What was acknowledged before the cut is there after it, and a
request cut in the middle of its commit is there entirely or not at all.
"""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.articles.models import Article
from app.audit_log.models import AuditEvent
from app.auth.models import User, user_roles
from tests.helpers import PASSWORD, attempt_login, bearer, login, postgres_only
from tests.resilience.proxy import TcpProxy
from tests.servers import Server, poll_until

pytestmark = postgres_only

DB_TIMEOUT = 2.0
# What the server may take beyond DB_TIMEOUT_SECONDS to answer: scheduling and writing the
# 503 on a busy CI machine. A client that waits longer than this has found a hang.
SLACK = 1.5
RECOVERY_SECONDS = 15.0
SERVICE_UNAVAILABLE = {
    "detail": "The service is temporarily unavailable; try again shortly.",
    "code": "service_unavailable",
}


async def _register(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post("/auth/register", json={"email": email, "password": PASSWORD})


async def _acknowledged_before_the_cut(http: httpx.AsyncClient) -> dict[str, Any]:
    """Users and an article, each answered 201: what must survive the outage."""
    emails = [f"before{i}@example.com" for i in range(3)]
    for email in emails:
        assert (await _register(http, email)).status_code == 201
    return {"emails": emails, "tokens": await login(http, emails[0])}


async def _api_calls(http: httpx.AsyncClient, access_token: str) -> list[httpx.Response]:
    """One call of each kind, at once: authenticated reads, login, registration, refresh."""
    return list(
        await asyncio.gather(
            http.get("/users/me", headers=bearer(access_token)),
            attempt_login(http, "before1@example.com"),
            _register(http, "during@example.com"),
            http.post("/auth/refresh", json={"refresh_token": "x" * 43}),
            http.get("/articles", headers=bearer(access_token)),
        )
    )


def _assert_unavailable(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 503, (response.request.url, response.text)
        assert response.json() == SERVICE_UNAVAILABLE


async def _wait_until_ready(http: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        return (await http.get("/ready")).status_code == 200

    await poll_until(ready, RECOVERY_SECONDS, "py-auth did not become ready again")


async def _assert_serving_again(server: Server, http: httpx.AsyncClient, before: Any) -> None:
    """Same process, serving; everything acknowledged before the cut is there."""
    await _wait_until_ready(http)
    assert server.process.poll() is None, "the server restarted"
    for email in before["emails"]:
        assert (await attempt_login(http, email)).status_code == 200, email
    me = await http.get("/users/me", headers=bearer(before["tokens"]["access_token"]))
    assert me.status_code == 200, me.text
    refreshed = await http.post(
        "/auth/refresh", json={"refresh_token": before["tokens"]["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


@pytest.fixture
async def server(serve, proxied_url) -> Server:
    return await serve(database_url=proxied_url, DB_TIMEOUT_SECONDS=str(DB_TIMEOUT))


@pytest.fixture
async def http(server: Server):
    # The client gives up after DB_TIMEOUT_SECONDS and a little: waiting longer is a hang.
    async with server.client(timeout=DB_TIMEOUT + SLACK) as client:
        yield client


async def test_while_the_database_is_cut_the_api_answers_503_and_health_200(
    server: Server, http: httpx.AsyncClient, proxy: TcpProxy
):
    before = await _acknowledged_before_the_cut(http)

    await proxy.cut()

    assert (await http.get("/health")).json() == {"status": "ok"}
    ready = await http.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["code"] == "service_unavailable"
    _assert_unavailable(await _api_calls(http, before["tokens"]["access_token"]))

    await proxy.restore()

    await _assert_serving_again(server, http, before)


async def test_while_the_database_does_not_answer_every_call_ends_within_the_timeout(
    server: Server, http: httpx.AsyncClient, proxy: TcpProxy
):
    # A network partition: connections stay open and nothing comes back; only timeouts tell.
    # The pool holds connections opened before: each is tested, and dropped, on its turn.
    before = await _acknowledged_before_the_cut(http)
    await asyncio.gather(*(http.get("/ready") for _ in range(4)))

    proxy.blackhole()

    assert (await http.get("/health")).status_code == 200
    assert (await http.get("/ready")).status_code == 503
    _assert_unavailable(await _api_calls(http, before["tokens"]["access_token"]))
    _assert_unavailable(
        list(
            await asyncio.gather(
                *(
                    http.get("/users/me", headers=bearer(before["tokens"]["access_token"]))
                    for _ in range(6)
                )
            )
        )
    )

    await proxy.restore()

    await _assert_serving_again(server, http, before)


async def test_a_request_in_flight_when_the_database_goes_silent_ends_within_the_timeout(
    server: Server, http: httpx.AsyncClient, proxy: TcpProxy
):
    before = await _acknowledged_before_the_cut(http)
    # The registration's statements are answered; its COMMIT, and all after it, never are.
    proxy.silence_when(b"COMMIT")

    response = await _register(http, "inflight@example.com")

    _assert_unavailable([response])
    await proxy.restore()
    await _assert_serving_again(server, http, before)
    # The COMMIT never arrived: the server rolled the transaction back when the link closed.
    assert (await attempt_login(http, "inflight@example.com")).status_code == 401


async def _count(session, statement) -> int:
    return int(await session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


async def _registration_rows(session, email: str) -> tuple[int, int, int]:
    """(users, role grants, registration events) written for this email."""
    user_ids = select(User.id).where(User.email == email)
    return (
        await _count(session, user_ids),
        await _count(session, select(user_roles).where(user_roles.c.user_id.in_(user_ids))),
        await _count(
            session,
            select(AuditEvent.id).where(
                AuditEvent.event == "user_registered", AuditEvent.subject_user_id.in_(user_ids)
            ),
        ),
    )


@pytest.mark.parametrize(
    ("after_reply", "expected"),
    [
        # The COMMIT never reaches the server: nothing of the request exists.
        pytest.param(False, (0, 0, 0), id="cut-before-the-commit"),
        # The server commits, the answer is lost: the client hears 503, and all of it exists.
        pytest.param(True, (1, 1, 1), id="cut-after-the-commit"),
    ],
)
async def test_a_registration_cut_at_its_commit_is_written_entirely_or_not_at_all(
    server: Server, http: httpx.AsyncClient, proxy: TcpProxy, session, after_reply, expected
):
    before = await _acknowledged_before_the_cut(http)
    proxy.cut_when(b"COMMIT", after_reply=after_reply)

    response = await _register(http, "cut@example.com")

    _assert_unavailable([response])
    await proxy.restore()
    await _assert_serving_again(server, http, before)
    assert await _registration_rows(session, "cut@example.com") == expected
    articles = await session.scalar(select(func.count()).select_from(Article))
    assert articles == 0
