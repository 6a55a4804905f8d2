"""The last active admin is protected: nobody can leave the service without an admin."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from app.auth.models import Permission, Role, User, user_roles
from app.users import service as users_service
from tests.helpers import end_read, postgres_only


async def active_admin_ids(session: Any) -> set[int]:
    ids = set(
        await session.scalars(
            select(User.id)
            .join(user_roles, user_roles.c.user_id == User.id)
            .join(Role, Role.id == user_roles.c.role_id)
            .where(Role.name == "admin", User.is_active.is_(True))
        )
    )
    await end_read(session)
    return ids


def assert_conflict(response: Any) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "conflict"
    assert "last active admin" in body["detail"]


async def test_last_admin_cannot_deactivate_themselves(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{admin.id}", json={"is_active": False}, headers=await auth_headers(admin)
    )

    assert_conflict(response)
    assert await active_admin_ids(session) == {admin.id}


async def every_permission(session: Any) -> list[str]:
    return list(await session.scalars(select(Permission.name)))


# A deputy holds every permission without the admin role: acting on the admin is allowed (they
# hold no less), and only the last-admin rule stands in the way.
async def test_last_admin_cannot_be_deactivated_by_a_deputy(
    client, session, make_user, make_role, auth_headers
):
    await make_role("deputy", permissions=await every_permission(session))
    manager = await make_user(roles=["deputy"])
    admin = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{admin.id}", json={"is_active": False}, headers=await auth_headers(manager)
    )

    assert_conflict(response)
    assert await active_admin_ids(session) == {admin.id}


async def test_last_admin_cannot_be_deleted(client, session, make_user, make_role, auth_headers):
    await make_role("deputy", permissions=await every_permission(session))
    manager = await make_user(roles=["deputy"])
    admin = await make_user(roles=["admin"])

    response = await client.delete(f"/users/{admin.id}", headers=await auth_headers(manager))

    assert_conflict(response)
    assert await active_admin_ids(session) == {admin.id}


async def test_last_admin_cannot_delete_themselves(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.delete(f"/users/{admin.id}", headers=await auth_headers(admin))

    assert_conflict(response)
    assert await active_admin_ids(session) == {admin.id}


@pytest.mark.parametrize("roles", [["editor"], []], ids=["editor-only", "no-roles"])
async def test_last_admin_cannot_lose_the_admin_role(
    client, session, make_user, auth_headers, roles
):
    admin = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{admin.id}", json={"roles": roles}, headers=await auth_headers(admin)
    )

    assert_conflict(response)
    assert await active_admin_ids(session) == {admin.id}


async def test_an_inactive_admin_does_not_count(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    await make_user(roles=["admin"], is_active=False)

    response = await client.patch(
        f"/users/{admin.id}", json={"is_active": False}, headers=await auth_headers(admin)
    )

    assert_conflict(response)


async def test_last_admin_can_still_change_other_fields(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{admin.id}",
        json={"full_name": "Still Admin", "roles": ["admin", "editor"], "is_active": True},
        headers=await auth_headers(admin),
    )

    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["admin", "editor"]


async def test_with_two_admins_one_can_be_demoted(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    other = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{other.id}", json={"roles": ["editor"]}, headers=await auth_headers(admin)
    )

    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["editor"]
    assert await active_admin_ids(session) == {admin.id}


async def test_with_two_admins_one_can_be_deactivated(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    other = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{other.id}", json={"is_active": False}, headers=await auth_headers(admin)
    )

    assert response.status_code == 200, response.text
    assert await active_admin_ids(session) == {admin.id}


async def test_with_two_admins_one_can_be_deleted(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])
    other = await make_user(roles=["admin"])

    response = await client.delete(f"/users/{other.id}", headers=await auth_headers(admin))

    assert response.status_code == 204, response.text
    assert await active_admin_ids(session) == {admin.id}


@pytest.fixture
def checks_meet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Holds each last-admin check until two requests have reached it.

    Both requests have then read their target as an active admin, so without the row lock
    both checks would pass: the race happens every run, not once in a while.
    """
    barrier = asyncio.Barrier(2)
    guard = users_service._guard_last_admin

    async def guard_when_both_arrive(session: Any, user: User) -> None:
        async with asyncio.timeout(10):
            await barrier.wait()
        await guard(session, user)

    monkeypatch.setattr(users_service, "_guard_last_admin", guard_when_both_arrive)


@postgres_only
@pytest.mark.usefixtures("checks_meet")
async def test_two_admins_deactivating_each_other_at_once_leave_one_active_admin(
    client, session, make_user, auth_headers
):
    first = await make_user(roles=["admin"])
    second = await make_user(roles=["admin"])

    responses = await asyncio.gather(
        client.patch(
            f"/users/{second.id}", json={"is_active": False}, headers=await auth_headers(first)
        ),
        client.patch(
            f"/users/{first.id}", json={"is_active": False}, headers=await auth_headers(second)
        ),
    )

    assert sorted(response.status_code for response in responses) == [200, 409]
    assert len(await active_admin_ids(session)) == 1


@postgres_only
@pytest.mark.usefixtures("checks_meet")
async def test_two_admins_deleting_each_other_at_once_leave_one_active_admin(
    client, session, make_user, auth_headers
):
    first = await make_user(roles=["admin"])
    second = await make_user(roles=["admin"])

    responses = await asyncio.gather(
        client.delete(f"/users/{second.id}", headers=await auth_headers(first)),
        client.delete(f"/users/{first.id}", headers=await auth_headers(second)),
    )

    assert sorted(response.status_code for response in responses) == [204, 409]
    assert len(await active_admin_ids(session)) == 1
    assert await session.scalar(select(func.count()).select_from(User)) == 1


@postgres_only
@pytest.mark.usefixtures("checks_meet")
async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    client, session, make_user, auth_headers
):
    first = await make_user(roles=["admin"])
    second = await make_user(roles=["admin"])

    responses = await asyncio.gather(
        client.patch(
            f"/users/{second.id}", json={"roles": ["editor"]}, headers=await auth_headers(first)
        ),
        client.patch(
            f"/users/{first.id}", json={"roles": ["editor"]}, headers=await auth_headers(second)
        ),
    )

    assert sorted(response.status_code for response in responses) == [200, 409]
    assert len(await active_admin_ids(session)) == 1
