"""Every audit event is written by the action that causes it, in that action's transaction,
and holds no secret."""

from typing import Any

import jwt
from sqlalchemy import select

from app.audit_log.models import AuditEvent
from app.auth.models import User
from app.auth.schemas import UserRead
from app.core.errors import Conflict
from tests.helpers import PASSWORD, WRONG_PASSWORD, attempt_login, bearer, end_read, login

CLIENT_IP = "203.0.113.7"  # the peer of the `client` fixture
NEW_PASSWORD = "a brand new passphrase"


async def _events(session, event: str | None = None) -> list[AuditEvent]:
    """The audit events, oldest first; ends the session's transaction so the API can write."""
    statement = select(AuditEvent).order_by(AuditEvent.id)
    if event is not None:
        statement = statement.where(AuditEvent.event == event)
    events = list(await session.scalars(statement))
    await end_read(session)
    return events


async def _only(session, event: str) -> AuditEvent:
    found = await _events(session, event)
    assert len(found) == 1, [(e.event, e.details) for e in await _events(session)]
    return found[0]


def _session_id(tokens: dict) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    session_id: str = claims["sid"]
    return session_id


# --- Registration, login, tokens -----------------------------------------------------------------


async def test_registration_records_user_registered(client, session):
    response = await client.post(
        "/auth/register", json={"email": "alice@example.com", "password": PASSWORD}
    )

    event = await _only(session, "user_registered")
    user_id = response.json()["id"]
    assert (event.actor_user_id, event.subject_user_id) == (user_id, user_id)


async def test_an_event_records_the_clients_ip_user_agent_and_request_id(client, session):
    await client.post(
        "/auth/register",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"User-Agent": "audit-test/2.0", "X-Request-ID": "req-audit-1"},
    )

    event = await _only(session, "user_registered")
    assert (event.ip, event.user_agent, event.request_id) == (
        CLIENT_IP,
        "audit-test/2.0",
        "req-audit-1",
    )


async def test_a_refused_registration_records_nothing(client, session, make_user):
    await make_user("alice@example.com")

    response = await client.post(
        "/auth/register", json={"email": "alice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 409
    assert await _events(session) == []


async def test_login_records_login_succeeded(client, session, make_user):
    user = await make_user()

    await login(client, user.email)

    event = await _only(session, "login_succeeded")
    assert (event.actor_user_id, event.subject_user_id) == (user.id, user.id)


async def test_a_wrong_password_records_login_failed_bad_password(client, session, make_user):
    user = await make_user()

    await attempt_login(client, user.email, WRONG_PASSWORD)

    event = await _only(session, "login_failed")
    assert event.actor_user_id is None
    assert event.subject_user_id == user.id
    assert event.details == {"reason": "bad_password", "email": user.email}


async def test_an_unknown_email_records_login_failed_unknown_email_without_what_was_typed(
    client, session
):
    # What was typed names no account: it may be a password typed into the wrong field.
    await attempt_login(client, "  Nobody@Example.com ")

    event = await _only(session, "login_failed")
    assert event.subject_user_id is None
    assert event.details == {"reason": "unknown_email", "email": None}


async def test_an_inactive_account_records_login_failed_inactive(client, session, make_user):
    user = await make_user(is_active=False)

    await attempt_login(client, user.email)

    event = await _only(session, "login_failed")
    assert event.subject_user_id == user.id
    assert event.details["reason"] == "inactive"


async def test_a_login_during_a_lockout_records_login_failed_throttled(
    client, session, make_user, settings, clock
):
    user = await make_user()
    for _ in range(settings.login_max_failures):
        await attempt_login(client, user.email, WRONG_PASSWORD)

    response = await attempt_login(client, user.email)

    assert response.status_code == 429
    reasons = [event.details["reason"] for event in await _events(session, "login_failed")]
    assert reasons == ["bad_password"] * settings.login_max_failures + ["throttled"]


async def test_refreshing_records_nothing(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    before = len(await _events(session))

    response = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200
    assert len(await _events(session)) == before


async def test_a_reused_refresh_token_records_refresh_token_reused(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    event = await _only(session, "refresh_token_reused")
    assert event.subject_user_id == user.id
    assert event.details == {"session_id": _session_id(tokens), "family_revoked": True}


async def test_logout_records_logout(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})

    event = await _only(session, "logout")
    assert (event.actor_user_id, event.subject_user_id) == (user.id, user.id)
    assert event.details == {"session_id": _session_id(tokens)}


async def test_revoking_a_refresh_token_records_logout(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    await client.post("/auth/revoke", data={"token": tokens["refresh_token"]})

    event = await _only(session, "logout")
    assert event.details == {"session_id": _session_id(tokens)}


async def test_logout_all_records_logout_all(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    await client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))

    event = await _only(session, "logout_all")
    assert (event.actor_user_id, event.subject_user_id) == (user.id, user.id)


async def test_revoking_ones_session_records_session_revoked(client, session, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    await client.delete(
        f"/auth/sessions/{_session_id(tokens)}", headers=bearer(tokens["access_token"])
    )

    event = await _only(session, "session_revoked")
    assert (event.actor_user_id, event.subject_user_id) == (user.id, user.id)
    assert event.details == {"session_id": _session_id(tokens)}


async def test_an_admin_revoking_a_users_sessions_records_session_revoked(
    client, session, make_user, auth_headers
):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    await client.delete(f"/users/{user.id}/sessions", headers=await auth_headers(admin))

    event = await _only(session, "session_revoked")
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, user.id)
    assert event.details == {"all": True}


async def test_a_password_change_records_password_changed(client, session, make_user, auth_headers):
    user = await make_user()

    await client.post(
        "/users/me/password",
        headers=await auth_headers(user),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )

    event = await _only(session, "password_changed")
    assert (event.actor_user_id, event.subject_user_id) == (user.id, user.id)


async def test_a_refused_password_change_records_nothing(client, session, make_user, auth_headers):
    user = await make_user()

    response = await client.post(
        "/users/me/password",
        headers=await auth_headers(user),
        json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 400
    assert await _events(session) == []


# --- Administration ------------------------------------------------------------------------------


async def test_a_user_update_records_user_updated_with_the_fields_and_roles(
    client, session, make_user, auth_headers
):
    user = await make_user(roles=["viewer"])
    admin = await make_user(roles=["admin"])

    await client.patch(
        f"/users/{user.id}",
        json={"full_name": "Renamed", "roles": ["editor", "viewer"]},
        headers=await auth_headers(admin),
    )

    event = await _only(session, "user_updated")
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, user.id)
    assert event.details == {
        "fields": ["full_name", "roles"],
        "old_roles": ["viewer"],
        "new_roles": ["editor", "viewer"],
    }


async def test_a_user_update_without_roles_records_no_roles(
    client, session, make_user, auth_headers
):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    await client.patch(
        f"/users/{user.id}", json={"full_name": "Renamed"}, headers=await auth_headers(admin)
    )

    event = await _only(session, "user_updated")
    assert event.details == {"fields": ["full_name"]}


async def test_deactivating_a_user_records_user_deactivated(
    client, session, make_user, auth_headers
):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    await client.patch(
        f"/users/{user.id}", json={"is_active": False}, headers=await auth_headers(admin)
    )

    event = await _only(session, "user_deactivated")
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, user.id)
    assert (await _only(session, "user_updated")).details == {"fields": ["is_active"]}


async def test_deleting_a_user_records_user_deleted_with_the_email(
    client, session, make_user, auth_headers
):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    await client.delete(f"/users/{user.id}", headers=await auth_headers(admin))

    event = await _only(session, "user_deleted")
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, user.id)
    assert event.details == {"email": user.email}


async def test_creating_a_role_records_role_created(client, session, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    await client.post(
        "/roles",
        json={"name": "auditor", "permissions": ["read_user", "read_article"]},
        headers=await auth_headers(admin),
    )

    event = await _only(session, "role_created")
    assert event.actor_user_id == admin.id
    assert event.details == {"role": "auditor", "permissions": ["read_article", "read_user"]}


async def test_changing_a_roles_permissions_records_what_was_added_and_removed(
    client, session, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])

    await client.put(
        "/roles/viewer/permissions",
        json={"permissions": ["read_article", "create_article"]},
        headers=await auth_headers(admin),
    )

    event = await _only(session, "role_permissions_changed")
    assert event.actor_user_id == admin.id
    assert event.details == {
        "role": "viewer",
        "added": ["create_article"],
        "removed": ["read_user"],
    }


async def test_deleting_a_role_records_role_deleted(
    client, session, make_user, make_role, auth_headers
):
    admin = await make_user(roles=["admin"])
    await make_role("temporary")

    await client.delete("/roles/temporary", headers=await auth_headers(admin))

    event = await _only(session, "role_deleted")
    assert event.actor_user_id == admin.id
    assert event.details == {"role": "temporary"}


async def test_unlocking_a_user_records_lockout_lifted(client, session, make_user, auth_headers):
    user = await make_user()
    admin = await make_user(roles=["admin"])

    await client.post(f"/users/{user.id}/unlock", headers=await auth_headers(admin))

    event = await _only(session, "lockout_lifted")
    assert (event.actor_user_id, event.subject_user_id) == (admin.id, user.id)


async def test_a_missing_permission_records_permission_denied_with_the_route(
    client, session, make_user, auth_headers
):
    viewer = await make_user(roles=["viewer"])
    target = await make_user()

    response = await client.delete(f"/users/{target.id}", headers=await auth_headers(viewer))

    assert response.status_code == 403
    event = await _only(session, "permission_denied")
    assert event.actor_user_id == viewer.id
    assert event.details == {"route": "DELETE /users/{user_id}", "missing": ["delete_user"]}


# --- One transaction with the action -------------------------------------------------------------


async def test_an_update_refused_by_the_last_admin_guard_records_no_user_updated(
    client, session, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])

    response = await client.patch(
        f"/users/{admin.id}",
        json={"full_name": "Still admin", "roles": ["viewer"]},
        headers=await auth_headers(admin),
    )

    assert response.status_code == 409
    assert await _events(session, "user_updated") == []


async def test_an_event_is_rolled_back_with_an_action_that_fails_after_recording_it(
    client, session, make_user, auth_headers, monkeypatch
):
    user = await make_user(full_name="Before")
    admin = await make_user(roles=["admin"])

    def fail(_user: User, **_: Any) -> UserRead:
        raise Conflict("Failed after the change was made.")

    # The service has changed the user and recorded the event when the route fails.
    monkeypatch.setattr(UserRead, "from_user", fail)
    response = await client.patch(
        f"/users/{user.id}", json={"full_name": "After"}, headers=await auth_headers(admin)
    )

    assert response.status_code == 409
    assert await _events(session, "user_updated") == []
    assert await session.scalar(select(User.full_name).where(User.id == user.id)) == "Before"


# --- No secret, anywhere -------------------------------------------------------------------------


async def test_no_event_holds_a_password_a_token_or_a_password_hash(client, session):
    secrets: set[str] = {PASSWORD, NEW_PASSWORD, WRONG_PASSWORD}
    email = "secretive@example.com"
    await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    await attempt_login(client, email, WRONG_PASSWORD)
    first = await login(client, email)
    rotated = (
        await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})  # reuse
    second = await login(client, email)
    secrets.add(await session.scalar(select(User.hashed_password).where(User.email == email)))
    await session.commit()
    await client.post(
        "/users/me/password",
        headers=bearer(second["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    third = await login(client, email, NEW_PASSWORD)
    await client.post("/auth/revoke", data={"token": third["access_token"]})
    fourth = await login(client, email, NEW_PASSWORD)
    await client.post("/auth/logout", json={"refresh_token": fourth["refresh_token"]})
    secrets.add(await session.scalar(select(User.hashed_password).where(User.email == email)))
    for tokens in (first, rotated, second, third, fourth):
        secrets.update((tokens["access_token"], tokens["refresh_token"]))

    rows = (await session.execute(select(AuditEvent.__table__))).mappings().all()

    assert len({row["event"] for row in rows}) >= 6, [row["event"] for row in rows]
    for row in rows:
        for column, value in row.items():
            for secret in secrets:
                assert secret not in str(value), f"{row['event']}.{column} holds a secret"
