"""Invitations (issue 17): an administrator invites an address with roles; its owner opens the
account, verified, with REGISTRATION=closed too."""

from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import PASSWORD, bearer, client_of, fresh_app, login

INVITED = "invited@example.com"


async def _invite(client, headers, roles=("editor",), email=INVITED):
    return await client.post(
        "/users/invitations", json={"email": email, "roles": list(roles)}, headers=headers
    )


async def _accept(client, token: str, password: str = PASSWORD):
    return await client.post(
        "/auth/accept-invitation",
        json={"token": token, "password": password, "full_name": "Invited"},
    )


async def test_an_invitation_opens_an_account_with_its_roles_verified(
    client, make_user, auth_headers, mailbox
):
    admin = await make_user(roles=["admin"])
    assert (await _invite(client, await auth_headers(admin))).status_code == 202

    response = await _accept(client, mailbox.token(INVITED, "invitation"))

    assert response.status_code == 201, response.text
    assert (response.json()["email"], response.json()["roles"]) == (INVITED, ["editor"])
    tokens = await login(client, INVITED)
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email_verified"] is True


async def test_an_invitation_works_once(client, make_user, auth_headers, mailbox):
    admin = await make_user(roles=["admin"])
    await _invite(client, await auth_headers(admin))
    token = mailbox.token(INVITED, "invitation")
    await _accept(client, token)

    assert (await _accept(client, token)).status_code == 400


async def test_inviting_needs_create_user(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await _invite(client, await auth_headers(editor))

    assert response.status_code == 403


async def test_no_role_can_be_given_whose_permissions_the_inviter_lacks(
    client, session, make_user, make_role, auth_headers, mailbox
):
    await make_role("onboarding", permissions=["create_user"])
    inviter = await make_user(roles=["onboarding"])

    response = await _invite(client, await auth_headers(inviter), roles=["admin"])

    assert response.status_code == 403
    assert mailbox.messages() == []


async def test_inviting_an_address_with_an_account_is_409(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    taken = await make_user()

    response = await _invite(client, await auth_headers(admin), email=taken.email)

    assert response.status_code == 409


async def test_invitations_work_with_registration_closed(
    clean_database, database_url, make_user, auth_headers, mailbox
):
    admin = await make_user(roles=["admin"])
    headers = await auth_headers(admin)
    async with (
        fresh_app(database_url, registration="closed") as closed,
        client_of(closed) as client,
    ):
        await _invite(client, headers)
        response = await _accept(client, mailbox.token(INVITED, "invitation"))

    assert response.status_code == 201, response.text


async def test_the_invitation_and_its_acceptance_are_audited(
    client, session, make_user, auth_headers, mailbox
):
    admin = await make_user(roles=["admin"])
    await _invite(client, await auth_headers(admin))
    await _accept(client, mailbox.token(INVITED, "invitation"))

    events = [e.event for e in await session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "user_invited" in events
    assert "invitation_accepted" in events
