"""Token introspection (RFC 7662): live access, refresh and personal access tokens are active
with their claims; anything else is `{"active": false}`; only a service account or a holder of
introspect_tokens may ask."""

import asyncio
import base64
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import assert_error, client_of, end_read, fresh_app, login, postgres_only


def basic(account) -> dict[str, str]:
    pair = f"{quote_plus(account.client_id)}:{quote_plus(account.client_secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


@pytest.fixture
async def introspect(client, make_service_account):
    """`await introspect(token)`: the answer to a resource service (a service account)."""
    account = await make_service_account(roles=[])

    async def ask(token: str):
        return await client.post("/auth/introspect", data={"token": token}, headers=basic(account))

    return ask


async def test_a_live_access_token_is_active_with_its_claims(introspect, client, make_user):
    user = await make_user(roles=["editor"])
    tokens = await login(client, user.email)

    response = await introspect(tokens["access_token"])

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["sub"] == str(user.id)
    assert body["token_type"] == "access_token"
    assert body["scope"] == "create_article read_article read_user update_article"
    assert {"exp", "iat", "iss", "aud", "jti", "sid"} <= set(body)


async def test_a_live_refresh_token_is_active(introspect, client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    body = (await introspect(tokens["refresh_token"])).json()

    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["sub"] == str(user.id)


async def test_a_personal_access_token_is_active_with_its_effective_scope(
    introspect, make_user, make_token
):
    user = await make_user(roles=["editor"])
    token = (await make_token(user, scopes=["read_article"]))["token"]

    body = (await introspect(token)).json()

    assert body["active"] is True
    assert body["token_type"] == "personal_access_token"
    assert body["scope"] == "read_article"


async def test_a_service_accounts_token_is_active_as_client_credentials(
    introspect, client, make_service_account
):
    account = await make_service_account()
    token = (
        await client.post(
            "/auth/login", data={"grant_type": "client_credentials"}, headers=basic(account)
        )
    ).json()["access_token"]

    body = (await introspect(token)).json()

    assert body["active"] is True
    assert body["credential"] == "client_credentials"


@pytest.mark.parametrize(
    "token", ["not-a-token", "pya_pat_" + "A" * 49, "a.b.c", "x" * 8192, "pya_pat_"]
)
async def test_anything_unknown_or_malformed_is_inactive(introspect, token):
    response = await introspect(token)

    assert response.status_code == 200
    assert response.json() == {"active": False}


async def test_tokens_are_inactive_after_logout(introspect, client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})

    assert (await introspect(tokens["access_token"])).json() == {"active": False}
    assert (await introspect(tokens["refresh_token"])).json() == {"active": False}


async def test_an_expired_access_token_is_inactive(introspect, client, make_user, clock, settings):
    user = await make_user()
    tokens = await login(client, user.email)

    clock.advance(minutes=settings.access_token_minutes, seconds=1)

    assert (await introspect(tokens["access_token"])).json() == {"active": False}


async def test_a_revoked_personal_access_token_is_inactive(
    introspect, client, make_user, make_token
):
    user = await make_user()
    token = (await make_token(user))["token"]

    await client.post("/auth/revoke", data={"token": token})

    assert (await introspect(token)).json() == {"active": False}


async def test_an_anonymous_caller_is_refused(client):
    response = await client.post("/auth/introspect", data={"token": "x"})

    assert_error(response, 401, "not_authenticated")


async def test_a_wrong_client_secret_is_invalid_client(client, make_service_account):
    account = await make_service_account()
    wrong = type(account)(account.user_id, account.client_id, "wrong")

    response = await client.post("/auth/introspect", data={"token": "x"}, headers=basic(wrong))

    assert_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="py-auth"'


async def test_a_caller_without_introspect_tokens_is_refused_and_audited(
    client, session, make_user, auth_headers
):
    user = await make_user(roles=["editor"])

    response = await client.post(
        "/auth/introspect", data={"token": "x"}, headers=await auth_headers(user)
    )

    assert_error(response, 403, "permission_denied")
    denial = await session.scalar(select(AuditEvent).where(AuditEvent.actor_user_id == user.id))
    await end_read(session)
    assert denial.details["missing"] == ["introspect_tokens"]


async def test_a_bearer_holding_introspect_tokens_may_introspect(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    headers = await auth_headers(admin)

    response = await client.post(
        "/auth/introspect", data={"token": headers["Authorization"][7:]}, headers=headers
    )

    assert response.json()["active"] is True
    assert response.json()["sub"] == str(admin.id)


@postgres_only
async def test_introspection_needs_one_pooled_connection_at_a_time(
    database_url, client, make_user, make_service_account
):
    """Introspection reads outside the request's transaction: a request that held a pooled
    connection while asking for another would wait for itself once the pool is in use."""
    account = await make_service_account()
    tokens = await login(client, (await make_user()).email)

    async with (
        fresh_app(
            database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=2
        ) as small_pool,
        client_of(small_pool) as http,
    ):
        answers = await asyncio.gather(
            *(
                http.post("/auth/introspect", data={"token": token}, headers=basic(account))
                for token in (tokens["access_token"], tokens["refresh_token"]) * 3
            )
        )

    assert [answer.status_code for answer in answers] == [200] * 6
    assert all(answer.json()["active"] for answer in answers)
