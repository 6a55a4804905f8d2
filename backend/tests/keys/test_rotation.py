"""The lifecycle of signing keys: next -> active -> retiring -> retired. A new key is published
before it signs, the old one verifies until its last token has expired, rotation is automatic
after KEY_ROTATION_DAYS, an emergency retirement ends a key's tokens at the next request in
every process, and a key one process makes is accepted by the others at once."""

import asyncio
import time
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select

from app.core.clock import utcnow
from app.core.database import Database
from app.core.sealing import Sealer, UnsealError
from app.core.signing_keys import KeyState
from app.keys import service
from app.keys.models import SigningKeyRow
from tests.helpers import (
    assert_401,
    bearer,
    client_of,
    fresh_app,
    login,
    make_settings,
    postgres_only,
    run_migrations,
)


async def _rotate(app, session):
    settings = app.state.settings
    rotation = await service.rotate(session, Sealer(settings), settings)
    await session.commit()
    return rotation.key


async def _retire(app, session, kid, *, immediately):
    settings = app.state.settings
    retirement = await service.retire(
        session, Sealer(settings), settings, kid, immediately=immediately
    )
    await session.commit()
    return retirement


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def _published(response) -> list[str]:
    return [key["kid"] for key in response.json()["keys"]]


async def test_a_rotated_key_is_published_before_it_signs(
    app, client, session, ring, make_user, clock
):
    user = await make_user()
    old = ring.signing_key(utcnow()).kid
    new = await _rotate(app, session)
    await ring.reload()
    lead = timedelta(seconds=app.state.settings.key_publish_lead_seconds)

    assert _published(await client.get("/.well-known/jwks.json")) == [old, new.kid]
    assert _kid((await login(client, user.email))["access_token"]) == old
    assert new.signs_from == new.published_at + lead

    clock.advance(seconds=lead.total_seconds())
    assert _kid((await login(client, user.email))["access_token"]) == new.kid


async def test_the_old_key_verifies_until_its_last_token_has_expired_then_leaves_the_set(
    app, client, session, ring, make_user, clock
):
    user = await make_user()
    new = await _rotate(app, session)
    await ring.reload()
    clock.advance(seconds=app.state.settings.key_publish_lead_seconds - 1)
    last_of_old = (await login(client, user.email))["access_token"]
    clock.advance(seconds=1)  # the new key signs from now

    clock.advance(minutes=app.state.settings.access_token_minutes, seconds=-2)
    assert (await client.get("/users/me", headers=bearer(last_of_old))).status_code == 200

    clock.advance(seconds=60)
    assert _published(await client.get("/.well-known/jwks.json")) == [new.kid]


async def test_the_active_key_rotates_by_itself_after_key_rotation_days(app, session, ring, clock):
    # The test key signs since a month ago (conftest); KEY_ROTATION_DAYS is 90.
    clock.advance(days=app.state.settings.key_rotation_days - 30)

    await ring.reload()  # what every process does each KEY_RELOAD_SECONDS

    rows = await service.list_keys(session)
    await session.commit()
    assert [row.times.state(utcnow()) for row in rows] == [KeyState.ACTIVE, KeyState.NEXT]


async def test_rotating_twice_publishes_one_next_key(app, session):
    first = await _rotate(app, session)
    second = await _rotate(app, session)

    assert second.kid == first.kid
    assert len(await service.list_keys(session)) == 2


async def test_retiring_the_active_key_lets_its_tokens_live_out_their_lifetime(
    app, client, session, ring, make_user
):
    user = await make_user()
    token = (await login(client, user.email))["access_token"]

    retirement = await _retire(app, session, _kid(token), immediately=False)
    await ring.reload()

    assert (await client.get("/users/me", headers=bearer(token))).status_code == 200
    fresh = (await login(client, user.email))["access_token"]
    assert _kid(fresh) == retirement.successor.kid != _kid(token)


async def test_retire_now_refuses_the_keys_tokens_in_every_process_at_the_next_request(
    app, client, session, make_user, other_process
):
    user = await make_user()
    token = (await login(client, user.email))["access_token"]
    async with client_of(other_process) as other:
        assert (await other.get("/users/me", headers=bearer(token))).status_code == 200

        await _retire(app, session, _kid(token), immediately=True)

        # Neither process has read the key set again: the query that loads the caller refuses.
        assert_401(await other.get("/users/me", headers=bearer(token)), "invalid_token")
    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_a_key_another_process_has_just_made_is_accepted_at_once(
    app, client, session, ring, make_user, other_process, monkeypatch
):
    # `other_process` read the key set before this one made a key signing now.
    user = await make_user()
    await _retire(app, session, ring.signing_key(utcnow()).kid, immediately=True)
    await ring.reload()
    token = (await login(client, user.email))["access_token"]

    # A second after its last read: an unknown kid may make it read the set again.
    other_ring = other_process.state.access_tokens.keys
    monkeypatch.setattr(other_ring, "_clock", lambda: time.monotonic() + 1)
    async with client_of(other_process) as other:
        response = await other.get("/users/me", headers=bearer(token))

    assert response.status_code == 200, response.text


async def test_the_private_key_is_sealed_at_rest_and_opens_in_its_own_row_only(app, session):
    (row,) = await service.list_keys(session)
    await session.commit()
    sealer = Sealer(app.state.settings)

    assert row.private_key.startswith("v1.")
    assert "PRIVATE KEY" not in row.private_key
    assert b"PRIVATE KEY" in sealer.open(row.private_key, context=service.sealing_context(row.kid))
    with pytest.raises(UnsealError):
        sealer.open(row.private_key, context=service.sealing_context("another-kid"))


async def test_the_first_start_on_an_empty_database_makes_one_active_key(new_database):
    url = await asyncio.to_thread(new_database)
    await asyncio.to_thread(run_migrations, url)
    async with (
        fresh_app(url) as application,
        application.state.database.sessionmaker() as session,
    ):
        rows = await service.list_keys(session)

    assert [row.times.state(utcnow()) for row in rows] == [KeyState.ACTIVE]


@postgres_only
async def test_processes_rotating_at_once_publish_one_next_key(database_url, clean_database):
    # Each rotation on a connection of its own, as in processes of their own: the advisory
    # lock makes the second wait, and it then finds the first one's key.
    settings = make_settings(database_url)
    databases = [Database(settings) for _ in range(4)]

    async def rotate(database: Database) -> str:
        async with database.sessionmaker.begin() as session:
            return (await service.rotate(session, Sealer(settings), settings)).key.kid

    try:
        kids = await asyncio.gather(*(rotate(database) for database in databases))
        async with databases[0].sessionmaker() as session:
            count = await session.scalar(select(func.count()).select_from(SigningKeyRow))
    finally:
        for database in databases:
            await database.dispose()

    assert len(set(kids)) == 1
    assert count == 2


@postgres_only
async def test_two_servers_starting_on_an_empty_database_make_one_key(new_database, serve):
    url = await asyncio.to_thread(new_database)
    await asyncio.to_thread(run_migrations, url)

    servers = await asyncio.gather(serve(database_url=url), serve(database_url=url))

    kids = set()
    for server in servers:
        async with server.client() as http:
            kids |= set(_published(await http.get("/.well-known/jwks.json")))
    engine_settings = make_settings(url)
    database = Database(engine_settings)
    try:
        async with database.sessionmaker() as session:
            rows = await service.list_keys(session)
    finally:
        await database.dispose()
    assert len(rows) == 1
    assert kids == {rows[0].kid}
