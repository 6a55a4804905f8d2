"""The limits around mailed links: per client IP, per user administrator, and the purge."""

from sqlalchemy import func, select

from app.auth import one_time_tokens
from app.auth.models import OneTimeToken
from tests.helpers import PASSWORD, client_of, fresh_app, login


async def test_forgot_password_is_limited_per_client_ip(clean_database, database_url):
    async with fresh_app(database_url, auth_rate_limit="2/minute") as app, client_of(app) as client:
        answers = [
            await client.post("/auth/forgot-password", json={"email": f"a{n}@example.com"})
            for n in range(3)
        ]

    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert "Retry-After" in answers[2].headers


async def test_reset_password_is_limited_per_client_ip(clean_database, database_url):
    async with fresh_app(database_url, auth_rate_limit="2/minute") as app, client_of(app) as client:
        answers = [
            await client.post(
                "/auth/reset-password", json={"token": "guess", "password": PASSWORD + "!"}
            )
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers] == [400, 400, 429]


async def test_email_changes_share_the_password_limit(clean_database, database_url, make_user):
    user = await make_user()
    async with fresh_app(database_url, auth_rate_limit="2/minute") as app, client_of(app) as client:
        tokens = await login(client, user.email)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        answers = [
            await client.post(
                "/users/me/email",
                json={"new_email": f"n{n}@example.com", "password": "a wrong guess"},
                headers=headers,
            )
            for n in range(3)
        ]

    assert [answer.status_code for answer in answers] == [400, 400, 429]


async def test_a_reset_mail_for_a_stronger_user_is_refused(
    client, make_user, make_role, auth_headers, mailbox
):
    await make_role("user-manager", permissions=["read_user", "update_user"])
    manager = await make_user(roles=["user-manager"])
    admin = await make_user(roles=["admin"])

    response = await client.post(
        f"/users/{admin.id}/password-reset", headers=await auth_headers(manager)
    )

    assert response.status_code == 403
    assert response.json()["code"] == "target_outranks_actor"
    assert mailbox.messages() == []


async def test_the_purge_deletes_used_and_expired_mailed_tokens_only(
    client, session, make_user, settings, mailbox, clock
):
    user = await make_user()
    await client.post("/auth/forgot-password", json={"email": user.email})
    await client.post("/auth/forgot-password", json={"email": user.email})  # ends the first
    clock.advance(minutes=20)  # past the mail window, within the second token's life
    await client.post("/auth/forgot-password", json={"email": "other@example.com"})

    deleted = await one_time_tokens.purge(session)
    await session.commit()

    assert deleted == 1  # the first token: ended by the second
    left = await session.scalar(select(func.count()).select_from(OneTimeToken))
    assert left == 2
    clock.advance(seconds=settings.reset_token_ttl_seconds)
    assert await one_time_tokens.purge(session) == 2
    await session.commit()
