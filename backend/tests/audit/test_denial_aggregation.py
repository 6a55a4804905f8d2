"""A signed-in caller refused again and again adds one audit row a minute per route, with a
count, not one row per request (security review, item 11)."""

from datetime import timedelta

from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import end_read


async def _denials(session) -> list[AuditEvent]:
    rows = list(
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event == "permission_denied")
            .order_by(AuditEvent.id)
            .execution_options(populate_existing=True)
        )
    )
    await end_read(session)
    return rows


async def test_repeated_refusals_on_one_route_share_a_row_with_a_count(
    client, session, make_user, auth_headers, clock
):
    viewer = await make_user()
    for _ in range(5):
        response = await client.get("/audit-events", headers=await auth_headers(viewer))
        assert response.status_code == 403

    (row,) = await _denials(session)
    assert row.occurrences == 5
    assert row.actor_user_id == viewer.id
    assert row.details == {"route": "GET /audit-events", "missing": ["read_audit"]}


async def test_refusals_on_another_route_get_their_own_row(
    client, session, make_user, auth_headers, clock
):
    viewer = await make_user()
    await client.get("/audit-events", headers=await auth_headers(viewer))
    await client.get("/roles", headers=await auth_headers(viewer))

    rows = await _denials(session)
    assert [row.details["route"] for row in rows] == ["GET /audit-events", "GET /roles"]


async def test_refusals_of_another_caller_get_their_own_row(
    client, session, make_user, auth_headers, clock
):
    first, second = await make_user(), await make_user()
    await client.get("/audit-events", headers=await auth_headers(first))
    await client.get("/audit-events", headers=await auth_headers(second))

    rows = await _denials(session)
    assert [row.actor_user_id for row in rows] == [first.id, second.id]


async def test_a_new_minute_starts_a_new_row(client, session, make_user, auth_headers, clock):
    viewer = await make_user()
    await client.get("/audit-events", headers=await auth_headers(viewer))
    clock.advance(minutes=1)
    await client.get("/audit-events", headers=await auth_headers(viewer))

    rows = await _denials(session)
    assert [row.occurrences for row in rows] == [1, 1]
    assert rows[1].occurred_at - rows[0].occurred_at == timedelta(minutes=1)


async def test_the_audit_api_shows_the_count(client, make_user, auth_headers, clock):
    viewer = await make_user()
    admin = await make_user(roles=["admin"])
    for _ in range(3):
        await client.get("/roles", headers=await auth_headers(viewer))

    response = await client.get(
        "/audit-events", params={"event": "permission_denied"}, headers=await auth_headers(admin)
    )

    (item,) = response.json()["items"]
    assert item["occurrences"] == 3
