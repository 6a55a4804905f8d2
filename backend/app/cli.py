"""Operator commands: `python -m app.cli --help` (from backend/, with the venv)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import purge_events
from app.auth.models import User
from app.auth.one_time_tokens import purge as purge_one_time_tokens
from app.auth.passwords import password_problem
from app.auth.pats import purge_dead_tokens
from app.auth.second_step import purge_expired_challenges
from app.auth.session_ends import purge_expired_sessions
from app.auth.throttling import purge_stale_login_throttles
from app.authz.policy import render_markdown, route_policies
from app.authz.service import role_permissions
from app.core.clock import utcnow
from app.core.config import Settings, SettingsError, load_settings
from app.core.database import Database
from app.core.errors import AppError
from app.core.schemas import Email
from app.core.sealing import Sealer
from app.core.security import PasswordHasher
from app.keys import service as keys_service
from app.keys.models import SigningKeyRow
from app.users.service import grant_admin

cli = typer.Typer(help="py-auth operator commands.", no_args_is_help=True, add_completion=False)
keys_cli = typer.Typer(
    help="The keys that sign access tokens (JWT_ALGORITHM RS256, ES256 or EdDSA).",
    no_args_is_help=True,
)
cli.add_typer(keys_cli, name="keys")


@cli.callback()
def main() -> None:
    """py-auth operator commands."""


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The admin's email.")],
    password: Annotated[
        str | None,
        typer.Option(help="Asked for (hidden) when not given; ignored for an existing user."),
    ] = None,
) -> None:
    """Create an admin, or make the existing user with this email an active admin (idempotent)."""
    try:
        normalized = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        raise typer.BadParameter("not a valid email address", param_hint="--email") from None
    settings = _settings()

    async def run() -> tuple[bool, bool]:
        async with _session(settings) as session:
            # grant_admin tells whether it created the account, not whether it woke a
            # deactivated one: that is read first, in the same transaction.
            is_active = await session.scalar(select(User.is_active).where(User.email == normalized))
            created = await grant_admin(
                session, PasswordHasher(settings), email=normalized, password=_password_for
            )
            return created, is_active is False

    async def _password_for() -> str:
        chosen = password if password is not None else _ask_password()
        problem = password_problem(chosen, normalized, min_length=settings.password_min_length)
        if problem is not None:
            typer.echo(f"Password refused: {problem}", err=True)
            raise typer.Exit(1)
        return chosen

    created, reactivated = asyncio.run(run())
    if created:
        typer.echo(f"Created admin {normalized}.")
    elif reactivated:
        # An operator who deactivated this account meant something by it: say it is back.
        typer.echo(f"Reactivated {normalized} (the account was deactivated) and granted it admin.")
    else:
        typer.echo(f"Granted admin to {normalized}.")


@cli.command("purge-tokens")
def purge_tokens() -> None:
    """Delete expired sessions and refresh tokens, failed-login counts that no longer matter,
    spent mailed tokens, expired sign-in challenges, and personal access tokens dead for
    REFRESH_IDLE_DAYS (idempotent; safe while the app runs)."""
    settings = _settings()

    async def run() -> tuple[int, int, int, int, int]:
        async with _session(settings) as session:
            sessions = await purge_expired_sessions(session, idle_days=settings.refresh_idle_days)
            throttles = await purge_stale_login_throttles(session, settings)
            mailed = await purge_one_time_tokens(session)
            challenges = await purge_expired_challenges(session)
            personal = await purge_dead_tokens(session, idle_days=settings.refresh_idle_days)
            return sessions, throttles, mailed, challenges, personal

    sessions, throttles, mailed, challenges, personal = asyncio.run(run())
    typer.echo(
        f"Deleted {sessions} expired or revoked sessions, {throttles} stale login throttles, "
        f"{mailed} used or expired mailed tokens, {challenges} expired sign-in challenges "
        f"and {personal} revoked or expired personal access tokens."
    )


@cli.command("purge-audit")
def purge_audit(
    days: Annotated[
        int | None, typer.Option(min=1, help="Keep this many days (default AUDIT_RETENTION_DAYS).")
    ] = None,
) -> None:
    """Delete audit events older than the retention period (idempotent)."""
    settings = _settings()
    keep = days or settings.audit_retention_days

    async def run() -> int:
        async with _session(settings) as session:
            return await purge_events(session, older_than=utcnow() - timedelta(days=keep))

    typer.echo(f"Deleted {asyncio.run(run())} audit events older than {keep} days.")


@cli.command("policy")
def policy() -> None:
    """Print the authorization policy (docs/policy.md): every route with the permissions it
    requires and whether ownership applies, and each role's decision on each route."""
    from app.main import create_app  # the routes, as the app serves them

    settings = _settings()
    routes = create_app(settings).routes

    async def run() -> dict[str, frozenset[str]]:
        async with _session(settings) as session:
            return await role_permissions(session)

    typer.echo(render_markdown(route_policies(routes), asyncio.run(run())), nl=False)


@keys_cli.command("list")
def keys_list() -> None:
    """Every signing key with its state and its lifecycle times (UTC)."""
    settings = _settings()

    async def run() -> list[SigningKeyRow]:
        async with _session(settings) as session:
            return await keys_service.list_keys(session)

    now = utcnow()
    rows = asyncio.run(run())
    if not rows:
        typer.echo("No signing keys (the app makes the first when it starts).")
    for row in rows:
        times = row.times
        typer.echo(
            f"{row.kid}  {row.algorithm:<5}  {times.state(now):<8}  "
            f"published {_when(times.published_at)}  signs from {_when(times.signs_from)}  "
            f"until {_when(times.signs_until)}  verifies until {_when(times.verifies_until)}"
            + (f"  retired {_when(times.retired_at)}" if times.retired_at else "")
        )


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Publish a new key now; it signs once the publish lead (JWKS_MAX_AGE_SECONDS +
    KEY_RELOAD_SECONDS) has passed, and the active key then retires (idempotent)."""
    settings = _signing_key_settings()

    async def run() -> keys_service.Rotation:
        async with _session(settings) as session:
            return await keys_service.rotate(session, Sealer(settings), settings)

    rotation = asyncio.run(run())
    key = rotation.key
    verb = "Published" if rotation.created else "Already published:"
    typer.echo(f"{verb} key {key.kid}; it signs from {_when(key.signs_from)}.")


@keys_cli.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The key's id (keys list).")],
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Emergency: its tokens fail at their next request, instead of living out "
            "their lifetime.",
        ),
    ] = False,
) -> None:
    """Stop a key signing now; it verifies until its tokens have expired (--now: not even
    that). A signing key hands over to the next key, or to a new one."""
    settings = _signing_key_settings()

    async def run() -> keys_service.Retirement:
        async with _session(settings) as session:
            return await keys_service.retire(
                session, Sealer(settings), settings, kid, immediately=now
            )

    try:
        retirement = asyncio.run(run())
    except AppError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    key = retirement.key
    if key.retired_at is not None:
        typer.echo(f"Retired key {key.kid}: its tokens are refused from now on.")
    else:
        typer.echo(f"Key {key.kid} no longer signs; it verifies until {_when(key.verifies_until)}.")
    if retirement.successor is not None:
        how = "a new key, not published ahead" if retirement.successor_created else "the next key"
        typer.echo(f"Key {retirement.successor.kid} signs from now on ({how}).")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def _signing_key_settings() -> Settings:
    settings = _settings()
    if not settings.uses_signing_keys:
        typer.echo(
            f"JWT_ALGORITHM is {settings.jwt_algorithm}: access tokens are signed with a key "
            "derived from JWT_SECRET, not with signing keys.",
            err=True,
        )
        raise typer.Exit(1)
    return settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction, committed when the block succeeds."""
    database = Database(settings)
    try:
        async with database.sessionmaker.begin() as session:
            yield session
    finally:
        await database.dispose()


def _ask_password() -> str:
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


if __name__ == "__main__":
    cli()
