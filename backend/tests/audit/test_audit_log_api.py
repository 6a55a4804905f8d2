"""GET /audit-events: newest first, filtered by event, user (actor or subject) and time, paged;
for holders of read_audit only."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.audit_log.models import AuditEvent

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def reader(make_user, auth_headers) -> dict[str, str]:
    """Headers of an admin, who holds read_audit."""
    return await auth_headers(await make_user(roles=["admin"]))


@pytest.fixture
def add_event(session):
    """`await add_event("logout", at=T0, actor=1, subject=2)`: an event as the log holds it."""

    async def factory(
        event: str = "logout",
        *,
        at: datetime = T0,
        actor: int | None = None,
        subject: int | None = None,
    ) -> int:
        row = AuditEvent(
            event=event,
            occurred_at=at,
            actor_user_id=actor,
            subject_user_id=subject,
            ip="192.0.2.1",
            user_agent="agent",
            request_id="req-1",
            details={"n": 1},
        )
        session.add(row)
        await session.commit()
        return row.id

    return factory


async def _ids(client, reader, **params) -> list[int]:
    response = await client.get("/audit-events", params=params, headers=reader)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_an_event_is_shown_with_every_field(client, reader, add_event):
    event_id = await add_event("logout", actor=7, subject=8)

    response = await client.get("/audit-events", headers=reader)

    assert response.json()["items"] == [
        {
            "id": event_id,
            "occurred_at": "2026-11-20T12:00:00Z",
            "event": "logout",
            "actor_user_id": 7,
            "subject_user_id": 8,
            "ip": "192.0.2.1",
            "user_agent": "agent",
            "request_id": "req-1",
            "details": {"n": 1},
            "occurrences": 1,
        }
    ]


async def test_events_are_listed_newest_first(client, reader, add_event):
    middle = await add_event(at=T0)
    newest = await add_event(at=T0 + timedelta(hours=1))
    oldest = await add_event(at=T0 - timedelta(hours=1))

    assert await _ids(client, reader) == [newest, middle, oldest]


async def test_events_of_the_same_instant_list_the_last_recorded_first(client, reader, add_event):
    first = await add_event(at=T0)
    second = await add_event(at=T0)

    assert await _ids(client, reader) == [second, first]


async def test_the_event_filter_keeps_that_event_only(client, reader, add_event):
    await add_event("logout")
    wanted = await add_event("login_failed")

    assert await _ids(client, reader, event="login_failed") == [wanted]


async def test_an_unknown_event_name_gives_422(client, reader):
    response = await client.get("/audit-events", params={"event": "no_such_event"}, headers=reader)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_the_user_filter_matches_the_actor(client, reader, add_event):
    wanted = await add_event(actor=41, subject=99)
    await add_event(actor=99, subject=99)

    assert await _ids(client, reader, user_id=41) == [wanted]


async def test_the_user_filter_matches_the_subject(client, reader, add_event):
    wanted = await add_event(actor=99, subject=41)
    await add_event(actor=99, subject=None)

    assert await _ids(client, reader, user_id=41) == [wanted]


async def test_since_keeps_events_from_that_time_on(client, reader, add_event):
    await add_event(at=T0 - timedelta(seconds=1))
    at_since = await add_event(at=T0)
    after = await add_event(at=T0 + timedelta(seconds=1))

    assert await _ids(client, reader, since=T0.isoformat()) == [after, at_since]


async def test_until_keeps_events_before_that_time(client, reader, add_event):
    before = await add_event(at=T0 - timedelta(seconds=1))
    await add_event(at=T0)

    assert await _ids(client, reader, until=T0.isoformat()) == [before]


async def test_since_and_until_together_keep_the_events_between(client, reader, add_event):
    await add_event(at=T0 - timedelta(hours=2))
    inside = await add_event(at=T0)
    await add_event(at=T0 + timedelta(hours=2))

    ids = await _ids(
        client,
        reader,
        since=(T0 - timedelta(hours=1)).isoformat(),
        until=(T0 + timedelta(hours=1)).isoformat(),
    )

    assert ids == [inside]


async def test_a_time_in_another_zone_is_compared_as_the_same_instant(client, reader, add_event):
    await add_event(at=T0 - timedelta(minutes=1))
    at_since = await add_event(at=T0)
    paris = timezone(timedelta(hours=1))

    assert await _ids(client, reader, since=T0.astimezone(paris).isoformat()) == [at_since]


async def test_a_time_without_a_zone_is_taken_as_utc(client, reader, add_event):
    await add_event(at=T0 - timedelta(minutes=1))
    at_since = await add_event(at=T0)

    assert await _ids(client, reader, since="2026-11-20T12:00:00") == [at_since]


async def test_filters_combine(client, reader, add_event):
    wanted = await add_event("logout", at=T0, actor=41)
    await add_event("logout", at=T0, actor=42)
    await add_event("login_failed", at=T0, subject=41)
    await add_event("logout", at=T0 - timedelta(days=1), actor=41)

    ids = await _ids(client, reader, event="logout", user_id=41, since=T0.isoformat())

    assert ids == [wanted]


async def test_events_are_paged_saying_whether_more_follow(client, reader, add_event):
    ids = [await add_event(at=T0 + timedelta(minutes=minute)) for minute in range(5)]

    response = await client.get("/audit-events", params={"limit": 2, "offset": 1}, headers=reader)

    body = response.json()
    assert [item["id"] for item in body["items"]] == [ids[3], ids[2]]
    assert (body["limit"], body["offset"], body["has_more"]) == (2, 1, True)


async def test_an_exactly_full_page_with_nothing_after_has_no_more(client, reader, add_event):
    for minute in range(2):
        await add_event(at=T0 + timedelta(minutes=minute))

    response = await client.get("/audit-events", params={"limit": 2}, headers=reader)

    body = response.json()
    assert len(body["items"]) == 2
    assert body["has_more"] is False


async def test_the_last_page_has_no_more(client, reader, add_event):
    ids = [await add_event(at=T0 + timedelta(minutes=minute)) for minute in range(5)]

    response = await client.get("/audit-events", params={"limit": 2, "offset": 4}, headers=reader)

    body = response.json()
    assert [item["id"] for item in body["items"]] == [ids[0]]
    assert body["has_more"] is False


async def test_has_more_counts_only_the_filtered_events(client, reader, add_event):
    await add_event("logout")
    await add_event("login_failed")

    response = await client.get(
        "/audit-events", params={"event": "logout", "limit": 1}, headers=reader
    )

    body = response.json()
    assert len(body["items"]) == 1
    assert body["has_more"] is False


async def test_reading_the_audit_log_needs_read_audit(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await client.get("/audit-events", headers=await auth_headers(editor))

    assert response.status_code == 403
    assert response.json()["missing"] == ["read_audit"]


async def test_reading_the_audit_log_needs_a_token(client):
    response = await client.get("/audit-events")

    assert response.status_code == 401
