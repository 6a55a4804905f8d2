"""Personal access tokens: made by a logged-in user, shown once, stored as a hash; they act
with their scopes and the user's permissions of the moment, both; they never manage the
account; revocation, expiry, deactivation and a password reset end them."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from app.audit_log.models import AuditEvent
from app.auth.models import PersonalAccessToken, User, user_roles
from app.auth.pat_format import (
    PAT_LENGTH,
    PAT_PREFIX,
    display_prefix,
    is_well_formed,
    new_personal_access_token,
)
from app.auth.pats import MAX_LIVE_TOKENS, purge_dead_tokens
from app.core.clock import utcnow
from app.core.security import hash_opaque_token
from tests.helpers import PASSWORD, assert_401, assert_error, bearer, end_read


async def _audit(session, event: str) -> list[AuditEvent]:
    rows = list(
        await session.scalars(
            select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)
        )
    )
    await end_read(session)
    return rows


async def test_a_new_token_is_shown_once_with_its_scopes_and_expiry(
    client, make_user, auth_headers, clock
):
    user = await make_user(roles=["editor"])

    response = await client.post(
        "/users/me/tokens",
        json={"name": "deploy", "scopes": ["read_article", "create_article"]},
        headers=await auth_headers(user),
    )

    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token"].startswith(PAT_PREFIX)
    assert body["display_prefix"] == body["token"][: len(body["display_prefix"])]
    assert body["scopes"] == ["create_article", "read_article"]
    assert body["expires_at"].startswith((clock.now + timedelta(days=30)).date().isoformat())
    listed = await client.get("/users/me/tokens", headers=await auth_headers(user))
    assert "token" not in listed.json()["items"][0]


def test_a_token_has_the_prefix_the_length_and_a_checksum():
    token = new_personal_access_token()

    assert token.startswith(PAT_PREFIX)
    assert len(token) == PAT_LENGTH
    assert is_well_formed(token)
    assert not is_well_formed(token[:-1] + ("A" if token[-1] != "A" else "B"))


async def test_only_the_hash_and_display_prefix_are_stored_or_audited(
    client, session, make_user, make_token
):
    user = await make_user()

    created = await make_token(user)

    stored = await session.scalar(select(PersonalAccessToken))
    assert stored.token_hash == hash_opaque_token(created["token"])
    assert stored.display_prefix == display_prefix(created["token"])
    columns = [str(value) for value in stored.__dict__.values()]
    assert not any(created["token"] in value for value in columns)
    events = await _audit(session, "personal_access_token_created")
    assert [event.details["token_prefix"] for event in events] == [created["display_prefix"]]
    assert created["token"] not in str(events[0].details)


async def test_a_token_acts_with_its_scopes_only(client, make_user, make_token):
    user = await make_user(roles=["editor"])
    token = (await make_token(user, scopes=["read_article"]))["token"]

    me = await client.get("/users/me", headers=bearer(token))
    create = await client.post("/articles", json={"title": "t"}, headers=bearer(token))

    assert me.status_code == 200
    assert me.json()["permissions"] == ["read_article"]
    assert_error(create, 403, "permission_denied")


async def test_a_permission_refusal_of_a_token_is_audited_with_its_display_prefix(
    client, session, make_user, make_token
):
    user = await make_user(roles=["editor"])
    created = await make_token(user, scopes=["read_article"])

    await client.post("/articles", json={"title": "t"}, headers=bearer(created["token"]))

    (denial,) = await _audit(session, "permission_denied")
    assert denial.details["token_prefix"] == created["display_prefix"]
    assert denial.details["missing"] == ["create_article"]


async def test_a_role_removed_from_the_user_ends_the_tokens_scope_at_the_next_request(
    client, session, make_user, make_token
):
    user = await make_user(roles=["editor"])
    token = (await make_token(user, scopes=["read_article", "create_article"]))["token"]
    assert (
        await client.post("/articles", json={"title": "t"}, headers=bearer(token))
    ).status_code == 201

    await session.execute(delete(user_roles).where(user_roles.c.user_id == user.id))
    await session.commit()
    response = await client.post("/articles", json={"title": "t"}, headers=bearer(token))

    assert_error(response, 403, "permission_denied")


async def test_a_scope_the_user_does_not_hold_is_refused(client, make_user, auth_headers):
    user = await make_user(roles=["viewer"])

    response = await client.post(
        "/users/me/tokens",
        json={"name": "x", "scopes": ["read_article", "manage_roles"]},
        headers=await auth_headers(user),
    )

    assert_error(response, 403, "scope_not_held")
    assert response.json()["missing"] == ["manage_roles"]


async def test_an_unknown_scope_is_a_validation_error(client, make_user, auth_headers):
    user = await make_user()

    response = await client.post(
        "/users/me/tokens",
        json={"name": "x", "scopes": ["no_such_permission"]},
        headers=await auth_headers(user),
    )

    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("days", [0, 366])
async def test_an_expiry_outside_one_to_365_days_is_refused(client, make_user, auth_headers, days):
    user = await make_user()

    response = await client.post(
        "/users/me/tokens",
        json={"name": "x", "scopes": [], "expires_in_days": days},
        headers=await auth_headers(user),
    )

    assert_error(response, 422, "validation_error")


async def test_an_expired_token_is_refused_and_the_refusal_audited(
    client, session, make_user, make_token, clock
):
    user = await make_user()
    created = await make_token(user, expires_in_days=1)

    clock.advance(days=1, seconds=1)
    response = await client.get("/users/me", headers=bearer(created["token"]))

    assert_401(response, "invalid_token")
    events = await _audit(session, "personal_access_token_refused")
    assert [(e.details["reason"], e.details["token_prefix"]) for e in events] == [
        ("expired", created["display_prefix"])
    ]


async def test_a_revoked_token_is_refused(client, make_user, make_token, auth_headers):
    user = await make_user()
    created = await make_token(user)

    revoked = await client.delete(
        f"/users/me/tokens/{created['id']}", headers=await auth_headers(user)
    )
    response = await client.get("/users/me", headers=bearer(created["token"]))

    assert revoked.status_code == 204
    assert_401(response, "invalid_token")


async def test_an_inactive_users_token_is_refused(client, session, make_user, make_token):
    user = await make_user()
    token = (await make_token(user))["token"]

    await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await session.commit()
    response = await client.get("/users/me", headers=bearer(token))

    assert_401(response, "invalid_token")


def _malformed() -> list[str]:
    good = new_personal_access_token()
    wrong_checksum = good[:-1] + ("A" if good[-1] != "A" else "B")
    return [wrong_checksum, good[:-1], good + "A", PAT_PREFIX + "!" * (PAT_LENGTH - 8), PAT_PREFIX]


@pytest.mark.parametrize(
    "token", _malformed(), ids=["checksum", "short", "long", "alphabet", "bare"]
)
async def test_a_malformed_token_is_refused_before_any_query(client, statements, token):
    response = await client.get("/users/me", headers=bearer(token))

    assert_401(response, "invalid_token")
    assert statements == []


async def test_users_me_with_a_token_is_one_query(client, make_user, make_token, statements):
    user = await make_user()
    token = (await make_token(user))["token"]
    await client.get("/users/me", headers=bearer(token))  # writes last_used_at
    statements.clear()

    response = await client.get("/users/me", headers=bearer(token))

    assert response.status_code == 200
    assert len(statements) == 1, statements


async def test_last_used_at_is_written_at_most_once_a_minute(
    client, session, make_user, make_token, clock
):
    user = await make_user()
    token = (await make_token(user))["token"]

    async def last_used() -> object:
        value = await session.scalar(select(PersonalAccessToken.last_used_at))
        await end_read(session)
        return value

    await client.get("/users/me", headers=bearer(token))
    first = await last_used()
    clock.advance(seconds=59)
    await client.get("/users/me", headers=bearer(token))
    assert await last_used() == first
    clock.advance(seconds=2)
    await client.get("/users/me", headers=bearer(token))

    assert first == clock.now - timedelta(seconds=61)
    assert await last_used() == clock.now


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users/me/tokens", {"name": "x", "scopes": []}),
        ("GET", "/users/me/tokens", None),
        ("DELETE", "/users/me/tokens/1", None),
        ("POST", "/users/me/password", {"current_password": PASSWORD, "new_password": "n" * 20}),
        ("POST", "/users/me/email", {"new_email": "new@example.com", "password": PASSWORD}),
        ("POST", "/users/me/email/confirm", {"token": "x"}),
        ("POST", "/auth/logout-all", None),
        # The second factor, and proving who one is: a login's business only.
        ("GET", "/users/me/mfa", None),
        ("POST", "/users/me/mfa/totp", None),
        ("POST", "/users/me/mfa/totp/confirm", {"code": "123456"}),
        ("DELETE", "/users/me/mfa/totp", {"code": "123456"}),
        ("POST", "/users/me/mfa/recovery-codes", None),
        ("POST", "/auth/reauthenticate", {"password": PASSWORD}),
        ("POST", "/users/1/mfa/reset", {"reason": "lost their phone"}),
    ],
)
async def test_a_token_cannot_manage_the_account(
    client, session, make_user, make_token, method, path, body
):
    user = await make_user(roles=["admin"])
    created = await make_token(user, scopes=["read_user", "update_user"])

    response = await client.request(method, path, json=body, headers=bearer(created["token"]))

    assert_error(response, 403, "token_not_allowed")
    events = await _audit(session, "personal_access_token_refused")
    assert [(e.details["reason"], e.details["token_prefix"]) for e in events] == [
        ("token_not_allowed", created["display_prefix"])
    ]


async def test_an_administrators_token_cannot_manage_others_tokens(client, make_user, make_token):
    admin = await make_user(roles=["admin"])
    token = (await make_token(admin, scopes=["read_user", "read_user_private"]))["token"]

    response = await client.get(f"/users/{admin.id}/tokens", headers=bearer(token))

    assert_error(response, 403, "token_not_allowed")


async def test_at_most_50_live_tokens_a_user(client, session, make_user, make_token):
    user = await make_user()
    session.add_all(
        PersonalAccessToken(
            user_id=user.id,
            name=f"t{n}",
            token_hash=hash_opaque_token(f"t{n}"),
            display_prefix="pya_pat_xxxxxx",
            expires_at=utcnow() + timedelta(days=1),
        )
        for n in range(MAX_LIVE_TOKENS)
    )
    await session.commit()

    with pytest.raises(AssertionError, match="too_many_tokens"):
        await make_token(user)


async def test_revoked_and_expired_tokens_do_not_count_toward_the_limit(
    client, session, make_user, make_token
):
    user = await make_user()
    session.add_all(
        PersonalAccessToken(
            user_id=user.id,
            name=f"t{n}",
            token_hash=hash_opaque_token(f"dead{n}"),
            display_prefix="pya_pat_xxxxxx",
            expires_at=utcnow() - timedelta(seconds=1) if n % 2 else utcnow() + timedelta(days=1),
            revoked_at=None if n % 2 else utcnow(),
        )
        for n in range(MAX_LIVE_TOKENS)
    )
    await session.commit()

    created = await make_token(user)

    assert created["token"].startswith(PAT_PREFIX)


async def test_someone_elses_token_is_not_found(client, make_user, make_token, auth_headers):
    owner, other = await make_user(), await make_user()
    created = await make_token(owner)

    response = await client.delete(
        f"/users/me/tokens/{created['id']}", headers=await auth_headers(other)
    )

    assert_error(response, 404, "not_found")


async def test_an_administrator_lists_and_revokes_a_users_token(
    client, session, make_user, make_token, auth_headers
):
    user, admin = await make_user(), await make_user(roles=["admin"])
    created = await make_token(user)
    headers = await auth_headers(admin)

    listed = await client.get(f"/users/{user.id}/tokens", headers=headers)
    revoked = await client.delete(f"/users/{user.id}/tokens/{created['id']}", headers=headers)

    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert revoked.status_code == 204
    assert_401(await client.get("/users/me", headers=bearer(created["token"])), "invalid_token")
    events = await _audit(session, "personal_access_token_revoked")
    assert [(e.actor_user_id, e.details["token_prefix"]) for e in events] == [
        (admin.id, created["display_prefix"])
    ]


async def test_rfc7009_revocation_accepts_a_token(client, make_user, make_token):
    user = await make_user()
    token = (await make_token(user))["token"]

    response = await client.post("/auth/revoke", data={"token": token})

    assert response.status_code == 200
    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_a_password_reset_revokes_the_users_tokens(client, make_user, make_token, mailbox):
    user = await make_user()
    token = (await make_token(user))["token"]
    await client.post("/auth/forgot-password", json={"email": user.email})
    reset = mailbox.token(user.email, "reset_password")

    response = await client.post(
        "/auth/reset-password", json={"token": reset, "password": "a new long passphrase"}
    )

    assert response.status_code == 204, response.text
    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_deactivation_revokes_the_users_tokens(
    client, session, make_user, make_token, auth_headers
):
    user, admin = await make_user(), await make_user(roles=["admin"])
    token = (await make_token(user))["token"]

    response = await client.patch(
        f"/users/{user.id}", json={"is_active": False}, headers=await auth_headers(admin)
    )

    assert response.status_code == 200
    live = await session.scalar(
        select(func.count())
        .select_from(PersonalAccessToken)
        .where(PersonalAccessToken.revoked_at.is_(None))
    )
    await end_read(session)
    assert live == 0
    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_deletion_revokes_the_users_tokens_in_the_audit_log(
    client, session, make_user, make_token, auth_headers
):
    user, admin = await make_user(), await make_user(roles=["admin"])
    created = await make_token(user)

    response = await client.delete(f"/users/{user.id}", headers=await auth_headers(admin))

    assert response.status_code == 204
    events = await _audit(session, "personal_access_token_revoked")
    assert [(e.details["token_prefix"], e.details["reason"]) for e in events] == [
        (created["display_prefix"], "user_deleted")
    ]


async def test_purge_deletes_tokens_dead_for_the_idle_period_and_keeps_the_others(
    session, make_user, settings
):
    user = await make_user()
    now = utcnow()
    long_ago = now - timedelta(days=settings.refresh_idle_days, seconds=1)
    lately = now - timedelta(days=1)
    kept = {"live": (now + timedelta(days=1), None), "revoked lately": (now, lately)}
    dropped = {"expired long ago": (long_ago, None), "revoked long ago": (now, long_ago)}
    session.add_all(
        PersonalAccessToken(
            user_id=user.id,
            name=name,
            token_hash=hash_opaque_token(name),
            display_prefix="pya_pat_xxxxxx",
            expires_at=expires_at,
            revoked_at=revoked_at,
        )
        for name, (expires_at, revoked_at) in {**kept, **dropped}.items()
    )
    await session.commit()

    purged = await purge_dead_tokens(session, idle_days=settings.refresh_idle_days)
    await session.commit()

    assert purged == len(dropped)
    assert set(await session.scalars(select(PersonalAccessToken.name))) == set(kept)
    await end_read(session)
