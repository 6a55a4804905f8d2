"""The user directory shows who exists; how to reach them and where they sign in from needs
read_user_private (OWASP API3:2023, property-level authorization). Security review, item 1."""

from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import assert_error, login


async def test_a_viewer_lists_the_directory_without_emails(client, make_user, auth_headers):
    viewer = await make_user(full_name="Vi")
    other = await make_user(full_name="Other", roles=["admin"])

    response = await client.get("/users", headers=await auth_headers(viewer))

    assert response.status_code == 200, response.text
    by_id = {item["id"]: item for item in response.json()["items"]}
    assert by_id[other.id] == {
        "id": other.id,
        "email": None,
        "full_name": "Other",
        "is_active": True,
        "created_at": by_id[other.id]["created_at"],
        "roles": ["admin"],
    }


async def test_a_viewer_sees_their_own_email_in_the_directory(client, make_user, auth_headers):
    viewer = await make_user()

    response = await client.get(f"/users/{viewer.id}", headers=await auth_headers(viewer))

    assert response.json()["email"] == viewer.email


async def test_a_viewer_reads_another_user_without_the_email(client, make_user, auth_headers):
    viewer = await make_user()
    other = await make_user()

    response = await client.get(f"/users/{other.id}", headers=await auth_headers(viewer))

    assert response.status_code == 200
    assert response.json()["email"] is None


async def test_an_admin_sees_every_email(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    other = await make_user()

    response = await client.get("/users", headers=await auth_headers(admin))

    emails = {item["id"]: item["email"] for item in response.json()["items"]}
    assert emails[other.id] == other.email


async def test_the_email_filter_without_read_user_private_is_403(
    client, session, make_user, auth_headers
):
    viewer = await make_user()
    await make_user("admin@example.com", roles=["admin"])

    response = await client.get(
        "/users", params={"email": "admin@"}, headers=await auth_headers(viewer)
    )

    assert_error(response, 403, "permission_denied")
    assert response.json()["missing"] == ["read_user_private"]
    denial = await session.scalar(select(AuditEvent).where(AuditEvent.event == "permission_denied"))
    assert denial is not None
    assert denial.actor_user_id == viewer.id


async def test_the_role_filter_stays_open_to_the_directory(client, make_user, auth_headers):
    viewer = await make_user()
    admin = await make_user(roles=["admin"])

    response = await client.get(
        "/users", params={"role": "admin"}, headers=await auth_headers(viewer)
    )

    assert [item["id"] for item in response.json()["items"]] == [admin.id]
    assert response.json()["items"][0]["email"] is None


async def test_another_users_sessions_need_read_user_private(client, make_user, auth_headers):
    viewer = await make_user()
    other = await make_user()
    await login(client, other.email)

    response = await client.get(f"/users/{other.id}/sessions", headers=await auth_headers(viewer))

    assert_error(response, 403, "permission_denied")
    assert response.json()["missing"] == ["read_user_private"]


async def test_an_admin_reads_another_users_sessions(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    other = await make_user()
    await login(client, other.email)

    response = await client.get(f"/users/{other.id}/sessions", headers=await auth_headers(admin))

    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["ip"] == "203.0.113.7"


async def test_an_editor_without_read_user_private_gets_the_edited_user_without_email(
    client, make_user, make_role, auth_headers
):
    await make_role("user-editor", permissions=["read_user", "update_user"])
    editor = await make_user(roles=["user-editor"])
    other = await make_user(roles=[])

    response = await client.patch(
        f"/users/{other.id}", json={"full_name": "Renamed"}, headers=await auth_headers(editor)
    )

    assert response.status_code == 200, response.text
    assert response.json()["email"] is None


async def test_the_openapi_document_says_who_sees_the_email(client):
    schema = (await client.get("/openapi.json")).json()

    email = schema["components"]["schemas"]["UserRead"]["properties"]["email"]
    assert {"type": "null"} in email["anyOf"]
    assert "read_user_private" in email["description"]
    sessions = schema["paths"]["/users/{user_id}/sessions"]["get"]
    assert sessions["x-required-permissions"] == ["read_user", "read_user_private"]
