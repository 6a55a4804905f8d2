"""Nobody acts on a user who holds more than they do (security review, item 5): holding
update_user or delete_user is not enough to deactivate, rename, delete, unlock or sign out an
administrator."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import fetch_user

Action = Callable[[Any, int, dict[str, str]], Awaitable[Any]]

ACTIONS: dict[str, Action] = {
    "deactivate": lambda c, i, h: c.patch(f"/users/{i}", json={"is_active": False}, headers=h),
    "reactivate": lambda c, i, h: c.patch(f"/users/{i}", json={"is_active": True}, headers=h),
    "rename": lambda c, i, h: c.patch(f"/users/{i}", json={"full_name": "Pwned"}, headers=h),
    "delete": lambda c, i, h: c.delete(f"/users/{i}", headers=h),
    "unlock": lambda c, i, h: c.post(f"/users/{i}/unlock", headers=h),
    "end sessions": lambda c, i, h: c.delete(f"/users/{i}/sessions", headers=h),
}
# What each action answers when it is allowed.
SUCCESS = {
    "deactivate": 200,
    "reactivate": 200,
    "rename": 200,
    "delete": 204,
    "unlock": 204,
    "end sessions": 204,
}


@pytest.fixture
async def manager(make_role, make_user):
    await make_role("user-manager", permissions=["read_user", "update_user", "delete_user"])
    return await make_user(roles=["user-manager"])


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_acting_on_a_user_who_holds_more_is_403(
    client, session, make_user, auth_headers, manager, action
):
    admin = await make_user(roles=["admin"], full_name="Admin")

    response = await ACTIONS[action](client, admin.id, await auth_headers(manager))

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "target_outranks_actor"
    assert "manage_roles" in response.json()["missing"]
    stored = await fetch_user(session, admin.id)
    assert (stored.is_active, stored.full_name) == (True, "Admin")


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_the_refusal_is_audited(client, session, make_user, auth_headers, manager, action):
    admin = await make_user(roles=["admin"])

    await ACTIONS[action](client, admin.id, await auth_headers(manager))

    denial = await session.scalar(select(AuditEvent).where(AuditEvent.event == "permission_denied"))
    assert denial is not None
    assert (denial.actor_user_id, denial.subject_user_id) == (manager.id, admin.id)


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_acting_on_a_user_who_holds_no_more_is_allowed(
    client, make_user, auth_headers, manager, action
):
    plain = await make_user(roles=[])

    response = await ACTIONS[action](client, plain.id, await auth_headers(manager))

    assert response.status_code == SUCCESS[action], response.text


async def test_a_user_holding_exactly_the_same_permissions_can_be_acted_on(
    client, session, make_user, auth_headers, manager
):
    peer = await make_user(roles=["user-manager"])

    response = await client.patch(
        f"/users/{peer.id}", json={"is_active": False}, headers=await auth_headers(manager)
    )

    assert response.status_code == 200, response.text
