"""`purge-tokens` and `purge-audit`: what each deletes, and what it must keep.

Rows are written with timestamps days away from now, so the commands (which read the real
clock) see each one clearly on its side of every limit. The commands run in a thread: they
start an event loop of their own, as they do when an operator runs them.
"""

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.audit_log.models import AuditEvent
from app.auth.models import AuthSession, LoginThrottle, RefreshToken
from app.cli import cli
from app.core.clock import utcnow

runner = CliRunner()


async def _run(*arguments: str) -> str:
    result = await asyncio.to_thread(runner.invoke, cli, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


# --- purge-tokens -------------------------------------------------------------------------------


@pytest.fixture
def add_session(session, make_user):
    """`await add_session(last_used=..., expires=..., revoked=...)`: a session of a new user with
    one refresh token, each time given as days from now (negative: in the past)."""

    async def factory(
        *, last_used: float = -0.1, expires: float = 10, revoked: float | None = None
    ) -> uuid.UUID:
        user = await make_user()
        now = utcnow()
        auth_session = AuthSession(
            user_id=user.id,
            created_at=now - timedelta(days=1),
            last_used_at=now + timedelta(days=last_used),
            expires_at=now + timedelta(days=expires),
            revoked_at=None if revoked is None else now + timedelta(days=revoked),
        )
        session.add(auth_session)
        await session.flush()
        session.add(
            RefreshToken(
                user_id=user.id,
                token_hash=uuid.uuid4().hex,
                family_id=auth_session.id,
                expires_at=auth_session.expires_at,
            )
        )
        await session.commit()
        return auth_session.id

    return factory


async def _session_ids(session) -> set[uuid.UUID]:
    ids = set(await session.scalars(select(AuthSession.id)))
    await session.commit()
    return ids


async def test_purge_tokens_keeps_a_live_session(cli_environment, session, add_session):
    live = await add_session()

    await _run("purge-tokens")

    assert await _session_ids(session) == {live}


async def test_purge_tokens_deletes_a_session_idle_for_refresh_idle_days(
    cli_environment, session, add_session, settings
):
    await add_session(last_used=-settings.refresh_idle_days - 0.5)

    await _run("purge-tokens")

    assert await _session_ids(session) == set()


async def test_purge_tokens_deletes_a_session_past_its_absolute_expiry(
    cli_environment, session, add_session
):
    await add_session(expires=-0.5)

    await _run("purge-tokens")

    assert await _session_ids(session) == set()


async def test_purge_tokens_keeps_a_recently_revoked_session(cli_environment, session, add_session):
    revoked = await add_session(revoked=-1)

    await _run("purge-tokens")

    assert await _session_ids(session) == {revoked}


async def test_purge_tokens_deletes_a_session_revoked_longer_than_the_idle_period(
    cli_environment, session, add_session, settings
):
    await add_session(last_used=-0.1, revoked=-settings.refresh_idle_days - 0.5)

    await _run("purge-tokens")

    assert await _session_ids(session) == set()


async def test_purge_tokens_deletes_the_refresh_tokens_of_the_sessions_it_deletes(
    cli_environment, session, add_session
):
    live = await add_session()
    await add_session(expires=-0.5)

    await _run("purge-tokens")

    families = set(await session.scalars(select(RefreshToken.family_id)))
    assert families == {live}


async def test_purge_tokens_keeps_the_rotated_tokens_of_a_live_session(
    cli_environment, client, make_user
):
    # They are what lets a replayed copy be recognised as reuse.
    user = await make_user()
    stolen = (
        await client.post(
            "/auth/login",
            data={"username": user.email, "password": "correct horse battery staple"},
        )
    ).json()["refresh_token"]
    assert (await client.post("/auth/refresh", json={"refresh_token": stolen})).status_code == 200

    await _run("purge-tokens")

    replay = await client.post("/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_revoked"  # not invalid_token: it was recognised


async def test_purge_tokens_reports_how_many_sessions_it_deleted(cli_environment, add_session):
    await add_session()
    await add_session(expires=-0.5)
    await add_session(last_used=-30)

    output = await _run("purge-tokens")

    assert "Deleted 2 expired or revoked sessions" in output


async def _add_throttle(session, *, window_started: timedelta, locked_until: timedelta | None):
    now = utcnow()
    throttle = LoginThrottle(
        email=f"{uuid.uuid4().hex[:8]}@example.com",
        failure_count=1,
        window_started_at=now + window_started,
        lockout_count=0 if locked_until is None else 1,
        locked_until=None if locked_until is None else now + locked_until,
    )
    session.add(throttle)
    await session.commit()
    return throttle.email


async def _throttled_emails(session) -> set[str]:
    emails = set(await session.scalars(select(LoginThrottle.email)))
    await session.commit()
    return emails


async def test_purge_tokens_deletes_failure_counts_older_than_the_window(cli_environment, session):
    await _add_throttle(session, window_started=-timedelta(days=1), locked_until=None)
    await _add_throttle(
        session, window_started=-timedelta(days=1), locked_until=-timedelta(hours=23)
    )

    await _run("purge-tokens")

    assert await _throttled_emails(session) == set()


async def test_purge_tokens_keeps_failure_counts_inside_the_window(cli_environment, session):
    counting = await _add_throttle(session, window_started=-timedelta(minutes=1), locked_until=None)

    await _run("purge-tokens")

    assert await _throttled_emails(session) == {counting}


async def test_purge_tokens_keeps_a_recent_lockout_that_sets_the_next_ones_length(
    cli_environment, session
):
    recent = await _add_throttle(
        session, window_started=-timedelta(days=1), locked_until=-timedelta(minutes=1)
    )

    await _run("purge-tokens")

    assert await _throttled_emails(session) == {recent}


# --- purge-audit --------------------------------------------------------------------------------


async def _add_events(session, *ages_in_days: float) -> None:
    now = utcnow()
    session.add_all(
        AuditEvent(event="logout", occurred_at=now - timedelta(days=age), details={"age": age})
        for age in ages_in_days
    )
    await session.commit()


async def _event_ages(session) -> list[float]:
    ages = sorted(event.details["age"] for event in await session.scalars(select(AuditEvent)))
    await session.commit()
    return ages


async def test_purge_audit_keeps_audit_retention_days_by_default(
    cli_environment, session, settings
):
    retention = settings.audit_retention_days
    await _add_events(session, retention - 1, retention + 1)

    output = await _run("purge-audit")

    assert await _event_ages(session) == [retention - 1]
    assert f"Deleted 1 audit events older than {retention} days" in output


async def test_purge_audit_reads_audit_retention_days(cli_environment, session, monkeypatch):
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "30")
    await _add_events(session, 29, 31, 364)

    await _run("purge-audit")

    assert await _event_ages(session) == [29]


async def test_purge_audit_days_option_overrides_the_setting(cli_environment, session):
    await _add_events(session, 6, 8)

    await _run("purge-audit", "--days", "7")

    assert await _event_ages(session) == [6]


async def test_purge_audit_refuses_zero_days(cli_environment):
    result = await asyncio.to_thread(runner.invoke, cli, ["purge-audit", "--days", "0"])

    assert result.exit_code != 0
