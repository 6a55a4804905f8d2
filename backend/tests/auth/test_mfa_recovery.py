"""When the second factor meets recovery: a password reset of an account with MFA asks for a
code too, and an administrator can turn a user's MFA off (a lost device), with a reason."""

from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import PASSWORD, assert_error, attempt_login, bearer, end_read, login

NEW_PASSWORD = "a fresh and long passphrase"


async def _reset_token(client, mailbox, email: str) -> str:
    await client.post("/auth/forgot-password", json={"email": email})
    return mailbox.token(email, "reset_password")


async def test_a_reset_of_an_mfa_account_without_a_code_is_refused_and_keeps_the_link(
    enroll, client, mailbox
):
    enrolled = await enroll()
    token = await _reset_token(client, mailbox, enrolled.user.email)

    refused = await client.post(
        "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
    )
    with_code = await client.post(
        "/auth/reset-password",
        json={"token": token, "password": NEW_PASSWORD, "code": enrolled.next_code()},
    )

    assert_error(refused, 403, "mfa_required")
    assert refused.json()["methods"] == ["totp", "recovery_code"]
    assert with_code.status_code == 204
    response = await attempt_login(client, enrolled.user.email, NEW_PASSWORD)
    assert_error(response, 403, "mfa_required")  # the second factor stays on


async def test_a_reset_with_a_wrong_code_is_refused_and_keeps_the_link(enroll, client, mailbox):
    enrolled = await enroll()
    token = await _reset_token(client, mailbox, enrolled.user.email)

    wrong = await client.post(
        "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD, "code": "000000"}
    )
    right = await client.post(
        "/auth/reset-password",
        json={
            "token": token,
            "password": NEW_PASSWORD,
            "recovery_code": enrolled.recovery_codes[0],
        },
    )

    assert_error(wrong, 400, "invalid_mfa_code")
    assert right.status_code == 204


async def test_wrong_codes_at_reset_count_toward_the_lockout(enroll, client, mailbox, settings):
    enrolled = await enroll()
    token = await _reset_token(client, mailbox, enrolled.user.email)
    for _ in range(settings.login_max_failures):
        await client.post(
            "/auth/reset-password",
            json={"token": token, "password": NEW_PASSWORD, "code": "000000"},
        )

    response = await client.post(
        "/auth/reset-password",
        json={"token": token, "password": NEW_PASSWORD, "code": enrolled.next_code()},
    )

    assert_error(response, 429, "rate_limited")


async def test_a_reset_of_an_account_without_mfa_needs_no_code(client, make_user, mailbox):
    user = await make_user()
    token = await _reset_token(client, mailbox, user.email)

    response = await client.post(
        "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
    )

    assert response.status_code == 204


async def test_an_administrator_resets_a_users_mfa(
    enroll, client, make_user, auth_headers, session, mailbox
):
    enrolled = await enroll()
    admin = await make_user(roles=["admin"])

    response = await client.post(
        f"/users/{enrolled.user.id}/mfa/reset",
        json={"reason": "lost their phone (ticket 4711)"},
        headers=await auth_headers(admin),
    )

    assert response.status_code == 204
    assert (await login(client, enrolled.user.email, PASSWORD))["access_token"]
    assert_error(
        await client.get("/users/me", headers=bearer(enrolled.access_token)), 401, "invalid_token"
    )
    assert mailbox.only(enrolled.user.email, "mfa_disabled")
    event = await session.scalar(select(AuditEvent).where(AuditEvent.event == "mfa_reset"))
    await end_read(session)
    assert event is not None
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, enrolled.user.id)
    assert event.details["reason"] == "lost their phone (ticket 4711)"


async def test_resetting_the_mfa_of_a_user_without_it_is_a_conflict(
    client, make_user, auth_headers
):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    response = await client.post(
        f"/users/{user.id}/mfa/reset",
        json={"reason": "lost their phone"},
        headers=await auth_headers(admin),
    )

    assert_error(response, 409, "mfa_not_enabled")


async def test_an_mfa_reset_needs_a_reason(enroll, client, make_user, auth_headers):
    enrolled = await enroll()
    admin = await make_user(roles=["admin"])

    response = await client.post(
        f"/users/{enrolled.user.id}/mfa/reset", json={}, headers=await auth_headers(admin)
    )

    assert_error(response, 422, "validation_error")


async def test_an_editor_of_users_cannot_reset_the_mfa_of_a_stronger_user(
    enroll, client, make_user, make_role, auth_headers
):
    enrolled = await enroll(roles=["admin"])
    await make_role("user-editor", permissions=["read_user", "update_user"])
    editor = await make_user(roles=["user-editor"])

    response = await client.post(
        f"/users/{enrolled.user.id}/mfa/reset",
        json={"reason": "lost their phone"},
        headers=await auth_headers(editor),
    )

    assert_error(response, 403, "target_outranks_actor")
