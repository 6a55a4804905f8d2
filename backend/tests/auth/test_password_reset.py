"""Forgot and reset password (issue 17): one answer for every address, a link that works once,
that a password change or a newer link ends, and that tells nothing to a mail scanner."""

import asyncio

import pytest
from sqlalchemy import select

from app.audit_log.models import AuditEvent
from app.auth.models import OneTimeToken
from tests.helpers import PASSWORD, bearer, login, postgres_only

NEW_PASSWORD = "a fresh and long passphrase"


async def _forgot(client, email: str):
    return await client.post("/auth/forgot-password", json={"email": email})


async def _reset(client, token: str, password: str = NEW_PASSWORD):
    return await client.post("/auth/reset-password", json={"token": token, "password": password})


async def test_forgot_password_is_202_with_one_body_for_known_unknown_and_inactive(
    client, make_user
):
    known = await make_user()
    inactive = await make_user(is_active=False)

    answers = [
        await _forgot(client, email)
        for email in (known.email, "nobody@example.com", inactive.email)
    ]

    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert len({answer.text for answer in answers}) == 1


async def test_only_the_owner_of_an_active_account_gets_a_mail(client, make_user, mailbox):
    known = await make_user()
    inactive = await make_user(is_active=False)

    for email in (known.email, "nobody@example.com", inactive.email):
        await _forgot(client, email)

    assert [m["To"] for m in mailbox.messages(template="reset_password")] == [known.email]


async def test_an_unknown_address_costs_the_same_database_work(client, session, make_user):
    await _forgot(client, "nobody@example.com")

    rows = list(await session.scalars(select(OneTimeToken)))
    assert [(row.purpose, row.user_id) for row in rows] == [("reset", None)]


async def test_the_reset_link_carries_the_token_in_the_fragment(client, make_user, mailbox):
    user = await make_user()

    await _forgot(client, user.email)

    text = mailbox.text(mailbox.only(user.email, "reset_password"))
    assert "/ui/#/reset-password?token=" in text


async def test_a_reset_sets_the_password_and_does_not_log_in(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)

    response = await _reset(client, mailbox.token(user.email, "reset_password"))

    assert response.status_code == 204
    assert response.content == b""
    await login(client, user.email, NEW_PASSWORD)
    old = await client.post("/auth/login", data={"username": user.email, "password": PASSWORD})
    assert old.status_code == 401


async def test_a_reset_ends_every_session(client, make_user, mailbox):
    user = await make_user()
    tokens = await login(client, user.email)
    await _forgot(client, user.email)

    await _reset(client, mailbox.token(user.email, "reset_password"))

    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (me.status_code, refreshed.status_code) == (401, 401)


async def test_a_reset_lifts_the_lockout_and_marks_the_address_verified(
    client, make_user, settings, mailbox
):
    user = await make_user()
    for _ in range(settings.login_max_failures):
        await client.post("/auth/login", data={"username": user.email, "password": "wrong one!"})
    await _forgot(client, user.email)

    await _reset(client, mailbox.token(user.email, "reset_password"))

    tokens = await login(client, user.email, NEW_PASSWORD)
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email_verified"] is True


async def test_a_reset_tells_the_owner_by_mail(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)

    await _reset(client, mailbox.token(user.email, "reset_password"))

    assert mailbox.messages(user.email, "password_changed")


async def test_a_token_works_once(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)
    token = mailbox.token(user.email, "reset_password")
    await _reset(client, token)

    again = await _reset(client, token, "yet another passphrase here")

    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"


@pytest.mark.parametrize("token", ["", "x" * 600])
async def test_a_malformed_token_is_422(client, token):
    assert (await _reset(client, token)).status_code == 422


async def test_an_unknown_token_is_400_invalid_token(client):
    response = await _reset(client, "not-a-token-we-issued")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


async def test_an_expired_token_is_400_invalid_token(client, make_user, settings, mailbox, clock):
    user = await make_user()
    await _forgot(client, user.email)
    clock.advance(seconds=settings.reset_token_ttl_seconds + 1)

    response = await _reset(client, mailbox.token(user.email, "reset_password"))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


async def test_a_newer_request_ends_the_older_link(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)
    first = mailbox.token(user.email, "reset_password")
    mailbox.clear()
    await _forgot(client, user.email)
    second = mailbox.token(user.email, "reset_password")

    assert (await _reset(client, first)).status_code == 400
    assert (await _reset(client, second)).status_code == 204


async def test_a_refused_password_does_not_spend_the_token(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)
    token = mailbox.token(user.email, "reset_password")

    refused = await _reset(client, token, "password")

    assert refused.status_code == 422
    assert (await _reset(client, token)).status_code == 204


async def test_a_reset_token_is_refused_by_verification(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)

    response = await client.post(
        "/auth/verify", json={"token": mailbox.token(user.email, "reset_password")}
    )

    assert response.status_code == 400


async def test_at_most_three_mails_per_address_in_fifteen_minutes(client, make_user, mailbox):
    user = await make_user()

    answers = [await _forgot(client, user.email) for _ in range(5)]

    assert {answer.status_code for answer in answers} == {202}
    assert len(mailbox.messages(user.email, "reset_password")) == 3


async def test_the_reset_is_audited_without_the_token(client, session, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)
    token = mailbox.token(user.email, "reset_password")

    await _reset(client, token)

    events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [e.event for e in events if e.event.startswith("password_reset")] == [
        "password_reset_requested",
        "password_reset",
    ]
    assert all(token not in str(event.details) for event in events)


async def test_no_token_is_stored_in_the_database(client, session, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)
    token = mailbox.token(user.email, "reset_password")

    row = await session.scalar(select(OneTimeToken))

    assert token not in (row.token_hash, row.email)


async def test_no_token_is_logged(client, make_user, mailbox, caplog):
    user = await make_user()
    with caplog.at_level("DEBUG"):
        await _forgot(client, user.email)
        token = mailbox.token(user.email, "reset_password")
        await _reset(client, token)

    assert token not in caplog.text


async def test_an_administrator_sends_a_reset_link_to_the_users_own_address(
    client, session, make_user, auth_headers, mailbox
):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    response = await client.post(
        f"/users/{user.id}/password-reset", headers=await auth_headers(admin)
    )

    assert response.status_code == 202
    assert mailbox.messages(user.email, "reset_password")
    assert not mailbox.messages(admin.email)
    event = await session.scalar(
        select(AuditEvent).where(AuditEvent.event == "password_reset_sent")
    )
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, user.id)


@postgres_only
async def test_ten_parallel_resets_with_one_token_give_exactly_one_204(client, make_user, mailbox):
    user = await make_user()
    await _forgot(client, user.email)
    token = mailbox.token(user.email, "reset_password")

    answers = await asyncio.gather(
        *(_reset(client, token, f"parallel passphrase number {n}") for n in range(10))
    )

    assert sorted(answer.status_code for answer in answers) == [204] + [400] * 9


async def test_a_host_header_does_not_steer_the_link(client, make_user, mailbox):
    # Without PUBLIC_URL, links name the address the server listens on, never the Host header
    # (which the requester writes: a reset link to their own host would hand them the token).
    user = await make_user()

    await client.post(
        "/auth/forgot-password", json={"email": user.email}, headers={"Host": "evil.example"}
    )

    text = mailbox.text(mailbox.only(user.email, "reset_password"))
    assert "evil.example" not in text


async def test_links_start_with_public_url_when_it_is_set(
    clean_database, database_url, make_user, mailbox
):
    from tests.helpers import client_of, fresh_app

    user = await make_user()
    async with (
        fresh_app(database_url, public_url="https://auth.example.com") as app,
        client_of(app) as client,
    ):
        await client.post("/auth/forgot-password", json={"email": user.email})

    text = mailbox.text(mailbox.only(user.email, "reset_password"))
    assert "https://auth.example.com/ui/#/reset-password?token=" in text
