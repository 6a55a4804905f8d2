"""Service accounts: created by administrators with roles, their secret shown once and stored
as a hash; the client credentials grant at the token endpoint (RFC 6749 §4.4, client
authentication by HTTP Basic or client_secret_post); rotation and deactivation end their
tokens at once; no password login, and no account changes with their tokens."""

import base64
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select, update

from app.audit_log.models import AuditEvent
from app.auth.client_credentials import hash_client_secret
from app.auth.models import AuthSession, ServiceAccount, User
from app.auth.session_ends import purge_expired_sessions
from tests.helpers import PASSWORD, assert_401, assert_error, bearer, end_read


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: each part form-urlencoded, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


async def grant(client, account, **form) -> object:
    return await client.post(
        "/auth/login",
        data={"grant_type": "client_credentials", **form},
        headers=basic(account.client_id, account.client_secret),
    )


async def test_an_administrator_creates_a_service_account_and_sees_its_secret_once(
    client, session, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])
    headers = await auth_headers(admin)

    created = await client.post(
        "/service-accounts", json={"name": "Billing", "roles": ["viewer"]}, headers=headers
    )
    listed = await client.get("/service-accounts", headers=headers)

    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    body = created.json()
    assert body["client_id"].startswith("pya_client_")
    assert body["client_secret"].startswith("pya_secret_")
    assert body["roles"] == ["viewer"]
    assert [item["client_id"] for item in listed.json()["items"]] == [body["client_id"]]
    assert "client_secret" not in listed.json()["items"][0]


async def test_the_secret_is_stored_as_a_hash_and_never_audited(
    client, session, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])
    headers = await auth_headers(admin)
    created = (await client.post("/service-accounts", json={"name": "B"}, headers=headers)).json()
    rotated = (
        await client.post(f"/service-accounts/{created['id']}/secret", headers=headers)
    ).json()

    account = await session.scalar(select(ServiceAccount))
    user = await session.get(User, created["id"])
    events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    await end_read(session)
    assert account.secret_hash == hash_client_secret(rotated["client_secret"])
    stored = [str(v) for row in (account, user) for v in row.__dict__.values()]
    for secret in (created["client_secret"], rotated["client_secret"]):
        assert not any(secret in value for value in stored)
        assert not any(secret in str(event.details) for event in events)
    assert [e.event for e in events if e.event.startswith("service_account")] == [
        "service_account_created",
        "service_account_secret_rotated",
    ]


async def test_a_role_holding_a_permission_the_manager_lacks_cannot_be_given(
    client, make_user, make_role, auth_headers
):
    await make_role("service-manager", permissions=["manage_service_accounts"])
    manager = await make_user(roles=["service-manager"])

    response = await client.post(
        "/service-accounts",
        json={"name": "x", "roles": ["editor"]},
        headers=await auth_headers(manager),
    )

    assert_error(response, 403, "permission_denied")
    assert "create_article" in response.json()["missing"]


async def test_client_credentials_with_http_basic_give_an_access_token_only(
    client, make_service_account, settings
):
    account = await make_service_account(roles=["viewer"])

    response = await grant(client, account)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["expires_in"] == settings.access_token_minutes * 60
    me = await client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == account.user_id
    assert me.json()["permissions"] == ["read_article", "read_user"]


async def test_client_secret_post_is_accepted(client, make_service_account):
    account = await make_service_account()

    response = await client.post(
        "/auth/login",
        data={
            "grant_type": "client_credentials",
            "client_id": account.client_id,
            "client_secret": account.client_secret,
        },
    )

    assert response.status_code == 200, response.text


async def test_basic_credentials_are_form_urlencoded_before_base64(client, make_service_account):
    account = await make_service_account(client_secret="sécret:with spaces+and%signs")

    response = await grant(client, account)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("wrong", ["secret", "client_id"])
async def test_bad_client_credentials_are_invalid_client_with_a_basic_challenge(
    client, make_service_account, wrong
):
    account = await make_service_account()
    client_id = account.client_id + ("x" if wrong == "client_id" else "")
    secret = account.client_secret + ("x" if wrong == "secret" else "")

    response = await client.post(
        "/auth/login", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )

    assert_error(response, 401, "invalid_client")
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="py-auth"'


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"nul%00:secret").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
    ],
    ids=["not-base64", "no-colon", "nul", "not-utf8"],
)
async def test_a_broken_basic_header_is_invalid_client(client, authorization):
    response = await client.post(
        "/auth/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
    )

    assert_error(response, 401, "invalid_client")


async def test_no_client_authentication_is_invalid_client(client):
    response = await client.post("/auth/login", data={"grant_type": "client_credentials"})

    assert_error(response, 401, "invalid_client")


async def test_two_client_authentication_methods_at_once_are_invalid_request(
    client, make_service_account
):
    account = await make_service_account()

    response = await grant(client, account, client_secret=account.client_secret)

    assert_error(response, 400, "invalid_request")
    assert response.json()["error"] == "invalid_request"


async def test_a_service_account_cannot_log_in_with_a_password(
    client, session, make_service_account
):
    account = await make_service_account()
    user = await session.get(User, account.user_id)
    await end_read(session)

    for password in (PASSWORD, "!service-account", ""):
        response = await client.post(
            "/auth/login", data={"username": user.email, "password": password or "x"}
        )
        assert_error(response, 401, "invalid_credentials")


async def test_rotating_the_secret_ends_the_old_secret_and_its_tokens_at_once(
    client, make_user, make_service_account, auth_headers
):
    account = await make_service_account()
    token = (await grant(client, account)).json()["access_token"]
    admin = await make_user(roles=["admin"])

    rotated = await client.post(
        f"/service-accounts/{account.user_id}/secret", headers=await auth_headers(admin)
    )

    assert rotated.status_code == 200, rotated.text
    assert_error(await grant(client, account), 401, "invalid_client")
    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")
    fresh = await client.post(
        "/auth/login",
        data={"grant_type": "client_credentials"},
        headers=basic(account.client_id, rotated.json()["client_secret"]),
    )
    assert fresh.status_code == 200


async def test_rotating_an_unknown_service_account_is_not_found(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        f"/service-accounts/{admin.id}/secret", headers=await auth_headers(admin)
    )

    assert_error(response, 404, "not_found")


async def test_deactivating_a_service_account_ends_its_tokens_and_grants(
    client, make_user, make_service_account, auth_headers
):
    account = await make_service_account()
    token = (await grant(client, account)).json()["access_token"]
    admin = await make_user(roles=["admin"])

    await client.patch(
        f"/users/{account.user_id}", json={"is_active": False}, headers=await auth_headers(admin)
    )

    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")
    assert_error(await grant(client, account), 401, "invalid_client")


async def test_a_service_account_token_is_revoked_by_rfc7009(client, make_service_account):
    account = await make_service_account()
    token = (await grant(client, account)).json()["access_token"]

    await client.post("/auth/revoke", data={"token": token})

    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/auth/logout-all"), ("GET", "/users/me/tokens"), ("POST", "/service-accounts")],
)
async def test_a_service_account_token_cannot_act_as_a_logged_in_user(
    client, session, make_service_account, method, path
):
    account = await make_service_account(roles=["admin"])
    token = (await grant(client, account)).json()["access_token"]

    response = await client.request(method, path, json={"name": "x"}, headers=bearer(token))

    assert_error(response, 403, "token_not_allowed")
    denial = await session.scalar(select(AuditEvent).where(AuditEvent.event == "permission_denied"))
    await end_read(session)
    assert denial.details["reason"] == "token_not_allowed"


async def test_a_grant_session_expires_with_its_token_and_is_purged(
    client, session, make_service_account, clock, settings
):
    account = await make_service_account()
    await grant(client, account)
    auth_session = await session.scalar(select(AuthSession))
    await end_read(session)
    assert auth_session.expires_at == clock.now + timedelta(minutes=settings.access_token_minutes)

    clock.advance(minutes=settings.access_token_minutes, seconds=1)
    purged = await purge_expired_sessions(session, idle_days=settings.refresh_idle_days)
    await session.commit()

    assert purged == 1


async def test_an_inactive_service_account_is_refused_like_a_wrong_secret(
    client, session, make_service_account
):
    account = await make_service_account()
    await session.execute(update(User).where(User.id == account.user_id).values(is_active=False))
    await session.commit()

    response = await grant(client, account)

    assert_error(response, 401, "invalid_client")
