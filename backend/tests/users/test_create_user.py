"""POST /users: an administrator creates an account (security review, item 1)."""

from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import PASSWORD, assert_error, bearer, client_of, fresh_app, login


async def test_an_admin_creates_an_account_that_can_log_in(
    client, session, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/users",
        json={
            "email": "New.Person@Example.com",
            "full_name": "New Person",
            "roles": ["editor"],
            "password": PASSWORD,
        },
        headers=await auth_headers(admin),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["email"], body["full_name"], body["roles"]) == (
        "new.person@example.com",
        "New Person",
        ["editor"],
    )
    await login(client, "new.person@example.com")
    event = await session.scalar(select(AuditEvent).where(AuditEvent.event == "user_created"))
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, body["id"])
    assert event.details == {"roles": ["editor"]}


async def test_an_account_created_without_roles_gets_the_default_role(
    client, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/users",
        json={"email": "plain@example.com", "password": PASSWORD},
        headers=await auth_headers(admin),
    )

    assert response.json()["roles"] == ["viewer"]


async def test_creating_an_account_needs_create_user(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await client.post(
        "/users",
        json={"email": "x@example.com", "password": PASSWORD},
        headers=await auth_headers(editor),
    )

    assert_error(response, 403, "permission_denied")
    assert response.json()["missing"] == ["create_user"]


async def test_the_initial_password_meets_the_policy(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/users",
        json={"email": "x@example.com", "password": "password"},
        headers=await auth_headers(admin),
    )

    assert_error(response, 422, "validation_error")
    assert response.json()["errors"][0]["loc"] == ["body", "password"]


async def test_an_address_with_an_account_is_409(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    await make_user("taken@example.com")

    response = await client.post(
        "/users",
        json={"email": "TAKEN@example.com", "password": PASSWORD},
        headers=await auth_headers(admin),
    )

    assert_error(response, 409, "conflict")


async def test_no_role_can_be_given_whose_permissions_the_creator_lacks(
    client, session, make_user, make_role, auth_headers
):
    await make_role("onboarding", permissions=["create_user"])
    creator = await make_user(roles=["onboarding"])

    response = await client.post(
        "/users",
        json={"email": "boss@example.com", "password": PASSWORD, "roles": ["admin"]},
        headers=await auth_headers(creator),
    )

    assert_error(response, 403, "permission_denied")
    denial = await session.scalar(select(AuditEvent).where(AuditEvent.event == "permission_denied"))
    assert denial.details["action"] == "create_user"


async def test_an_unknown_role_is_422(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/users",
        json={"email": "x@example.com", "password": PASSWORD, "roles": ["nope"]},
        headers=await auth_headers(admin),
    )

    assert_error(response, 422, "validation_error")


async def test_accounts_can_be_created_while_registration_is_closed(database_url, make_user):
    admin = await make_user("closed-admin@example.com", roles=["admin"])
    async with (
        fresh_app(database_url, registration="closed") as closed,
        client_of(closed) as http,
    ):
        tokens = await login(http, admin.email)
        response = await http.post(
            "/users",
            json={"email": "invited@example.com", "password": PASSWORD},
            headers=bearer(tokens["access_token"]),
        )

    assert response.status_code == 201, response.text
