"""Verification of the address (issue 17): registration mails a link; EMAIL_VERIFICATION=required
keeps unverified accounts out and makes registration answer the same for every address."""

from tests.helpers import PASSWORD, bearer, client_of, fresh_app, login


async def _register(client, email: str, password: str = PASSWORD):
    return await client.post("/auth/register", json={"email": email, "password": password})


async def test_registration_mails_a_verification_link(client, mailbox):
    await _register(client, "new@example.com")

    assert "/ui/#/verify-email?token=" in mailbox.text(
        mailbox.only("new@example.com", "verify_email")
    )


async def test_verify_marks_the_address_verified(client, mailbox):
    await _register(client, "new@example.com")
    tokens = await login(client, "new@example.com")

    response = await client.post(
        "/auth/verify", json={"token": mailbox.token("new@example.com", "verify_email")}
    )

    assert response.status_code == 200, response.text
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email_verified"] is True


async def test_a_new_account_is_not_verified(client):
    await _register(client, "new@example.com")
    tokens = await login(client, "new@example.com")

    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))

    assert me.json()["email_verified"] is False


async def test_a_verification_link_works_once(client, mailbox):
    await _register(client, "new@example.com")
    token = mailbox.token("new@example.com", "verify_email")
    await client.post("/auth/verify", json={"token": token})

    again = await client.post("/auth/verify", json={"token": token})

    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"


async def test_request_verify_token_is_202_for_every_address_and_mails_only_the_owner(
    client, make_user, mailbox
):
    unverified = await make_user()

    answers = [
        await client.post("/auth/request-verify-token", json={"email": email})
        for email in (unverified.email, "nobody@example.com")
    ]

    assert [answer.status_code for answer in answers] == [202, 202]
    assert answers[0].text == answers[1].text
    assert [m["To"] for m in mailbox.messages(template="verify_email")] == [unverified.email]


async def _required(database_url):
    return fresh_app(database_url, email_verification="required")


async def test_required_registration_is_202_whether_or_not_the_address_has_an_account(
    clean_database, database_url, make_user, mailbox
):
    taken = await make_user()
    async with await _required(database_url) as required, client_of(required) as client:
        new = await _register(client, "new@example.com")
        existing = await _register(client, taken.email)

    assert (new.status_code, existing.status_code) == (202, 202)
    assert new.json() == existing.json()


async def test_required_registration_tells_the_owner_of_a_taken_address_by_mail(
    clean_database, database_url, make_user, mailbox
):
    taken = await make_user()
    async with await _required(database_url) as required, client_of(required) as client:
        await _register(client, taken.email)

    assert mailbox.messages(taken.email, "registration_attempt")
    assert not mailbox.messages(taken.email, "verify_email")


async def test_required_login_of_an_unverified_account_is_403_email_not_verified(
    clean_database, database_url, mailbox
):
    async with await _required(database_url) as required, client_of(required) as client:
        await _register(client, "new@example.com")
        right = await client.post(
            "/auth/login", data={"username": "new@example.com", "password": PASSWORD}
        )
        wrong = await client.post(
            "/auth/login", data={"username": "new@example.com", "password": "wrong password!"}
        )

    assert right.status_code == 403
    assert right.json()["code"] == "email_not_verified"
    assert right.json()["error"] == "invalid_grant"  # RFC 6749 §5.2, for OAuth2 clients
    assert "access_token" not in right.json()
    assert wrong.status_code == 401


async def test_required_login_works_once_verified(clean_database, database_url, mailbox):
    async with await _required(database_url) as required, client_of(required) as client:
        await _register(client, "new@example.com")
        await client.post(
            "/auth/verify", json={"token": mailbox.token("new@example.com", "verify_email")}
        )
        response = await client.post(
            "/auth/login", data={"username": "new@example.com", "password": PASSWORD}
        )

    assert response.status_code == 200, response.text
