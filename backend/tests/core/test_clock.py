"""One clock for the whole app: a test that moves it moves every part at once."""

from sqlalchemy import select

from app.audit_log.models import AuditEvent
from tests.helpers import bearer, login


async def test_an_access_token_expires_on_the_apps_clock(client, make_user, settings, clock):
    user = await make_user()
    tokens = await login(client, user.email)

    clock.advance(minutes=settings.access_token_minutes, seconds=1)
    response = await client.get("/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_a_token_issued_ahead_of_the_apps_clock_is_refused(client, make_user, clock):
    user = await make_user()
    clock.advance(minutes=5)
    tokens = await login(client, user.email)

    clock.advance(minutes=-5)
    response = await client.get("/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_audit_timestamps_come_from_the_apps_clock(client, session, make_user, clock):
    user = await make_user()
    clock.advance(days=3)

    await login(client, user.email)

    occurred_at = await session.scalar(
        select(AuditEvent.occurred_at).where(AuditEvent.event == "login_succeeded")
    )
    assert occurred_at == clock.now
