"""Changing the email address (issue 17): proven by the new address, told to the old one."""

from tests.helpers import PASSWORD, bearer, login

NEW = "moved@example.com"


async def _change(client, tokens, new_email: str = NEW, password: str = PASSWORD):
    return await client.post(
        "/users/me/email",
        json={"new_email": new_email, "password": password},
        headers=bearer(tokens["access_token"]),
    )


async def _confirm(client, tokens, token: str):
    return await client.post(
        "/users/me/email/confirm", json={"token": token}, headers=bearer(tokens["access_token"])
    )


async def test_a_change_mails_a_link_to_the_new_address_and_a_notice_to_the_old(
    client, make_user, mailbox
):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _change(client, tokens)

    assert response.status_code == 202, response.text
    assert mailbox.messages(NEW, "email_change_confirm")
    assert NEW in mailbox.text(mailbox.only(user.email, "email_change_notice"))


async def test_until_confirmed_login_uses_the_old_address(client, make_user, mailbox):
    user = await make_user()
    await _change(client, await login(client, user.email))

    await login(client, user.email)
    refused = await client.post("/auth/login", data={"username": NEW, "password": PASSWORD})
    assert refused.status_code == 401


async def test_confirming_switches_the_address_verified(client, make_user, mailbox):
    user = await make_user()
    tokens = await login(client, user.email)
    await _change(client, tokens)

    response = await _confirm(client, tokens, mailbox.token(NEW, "email_change_confirm"))

    assert response.status_code == 200, response.text
    assert response.json()["email"] == NEW
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert (me.json()["email"], me.json()["email_verified"]) == (NEW, True)
    await login(client, NEW)


async def test_confirming_ends_the_other_sessions_only(client, make_user, mailbox):
    user = await make_user()
    other = await login(client, user.email)
    tokens = await login(client, user.email)
    await _change(client, tokens)

    await _confirm(client, tokens, mailbox.token(NEW, "email_change_confirm"))

    assert (await client.get("/users/me", headers=bearer(other["access_token"]))).status_code == 401
    assert (
        await client.get("/users/me", headers=bearer(tokens["access_token"]))
    ).status_code == 200


async def test_a_wrong_password_is_400_and_mails_nothing(client, make_user, mailbox):
    user = await make_user()

    response = await _change(client, await login(client, user.email), password="not my password")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_current_password"
    assert mailbox.messages() == []


async def test_a_taken_address_gets_the_same_202_and_no_mail(client, make_user, mailbox):
    user = await make_user()
    taken = await make_user()

    response = await _change(client, await login(client, user.email), new_email=taken.email)

    assert response.status_code == 202
    assert mailbox.messages() == []


async def test_another_account_cannot_use_the_link(client, make_user, mailbox):
    user, other = await make_user(), await make_user()
    await _change(client, await login(client, user.email))

    response = await _confirm(
        client, await login(client, other.email), mailbox.token(NEW, "email_change_confirm")
    )

    assert response.status_code == 400


async def test_a_verification_link_sent_to_the_old_address_stops_working(
    client, make_user, mailbox
):
    await client.post("/auth/register", json={"email": "old@example.com", "password": PASSWORD})
    old_link = mailbox.token("old@example.com", "verify_email")
    tokens = await login(client, "old@example.com")
    await _change(client, tokens)
    await _confirm(client, tokens, mailbox.token(NEW, "email_change_confirm"))

    response = await client.post("/auth/verify", json={"token": old_link})

    assert response.status_code == 400
