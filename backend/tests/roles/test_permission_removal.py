"""Nobody takes away a permission they do not hold, as nobody hands one out (security review,
item 6)."""

import pytest
from sqlalchemy import select

from app.audit_log.models import AuditEvent
from app.auth.models import Permission, Role, role_permissions
from tests.helpers import end_read


@pytest.fixture
async def role_manager(make_role, make_user):
    await make_role("role-manager", permissions=["manage_roles"])
    return await make_user(roles=["role-manager"])


async def _permissions_of(session, name: str) -> list[str]:
    names = list(
        await session.scalars(
            select(Permission.name)
            .join(role_permissions, role_permissions.c.permission_id == Permission.id)
            .join(Role, Role.id == role_permissions.c.role_id)
            .where(Role.name == name)
            .order_by(Permission.name)
        )
    )
    await end_read(session)
    return names


async def test_removing_a_permission_one_lacks_is_403(client, session, auth_headers, role_manager):
    headers = await auth_headers(role_manager)
    before = await _permissions_of(session, "editor")

    response = await client.put(
        "/roles/editor/permissions", json={"permissions": []}, headers=headers
    )

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "permission_denied"
    assert sorted(response.json()["missing"]) == sorted(before)
    assert await _permissions_of(session, "editor") == before


async def test_the_refused_removal_is_audited(client, session, auth_headers, role_manager):
    await client.put(
        "/roles/editor/permissions",
        json={"permissions": []},
        headers=await auth_headers(role_manager),
    )

    denial = await session.scalar(select(AuditEvent).where(AuditEvent.event == "permission_denied"))
    assert denial.details["action"] == "change_permissions"
    assert denial.details["role"] == "editor"


async def test_removing_a_permission_one_holds_is_allowed(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.put(
        "/roles/editor/permissions",
        json={"permissions": ["read_article"]},
        headers=await auth_headers(admin),
    )

    assert response.status_code == 200, response.text
    assert await _permissions_of(session, "editor") == ["read_article"]
