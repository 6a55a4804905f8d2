"""Operator commands: `python -m app.cli --help` (from backend/, with the venv)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
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
from app.auth.sessions import purge_expired_sessions
from app.auth.throttling import purge_stale_login_throttles
from app.authz.policy import render_markdown, route_policies
from app.authz.service import role_permissions
from app.core.clock import utcnow
from app.core.config import Settings, SettingsError, load_settings
from app.core.database import Database
from app.core.schemas import Email
from app.core.security import PasswordHasher
from app.users.service import grant_admin

cli = typer.Typer(help="py-auth operator commands.", no_args_is_help=True, add_completion=False)


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
    used mailed tokens, and personal access tokens dead for REFRESH_IDLE_DAYS (idempotent;
    safe while the app runs)."""
    settings = _settings()

    async def run() -> tuple[int, int, int, int]:
        async with _session(settings) as session:
            sessions = await purge_expired_sessions(session, idle_days=settings.refresh_idle_days)
            throttles = await purge_stale_login_throttles(session, settings)
            mailed = await purge_one_time_tokens(session)
            personal = await purge_dead_tokens(session, idle_days=settings.refresh_idle_days)
            return sessions, throttles, mailed, personal

    sessions, throttles, mailed, personal = asyncio.run(run())
    typer.echo(
        f"Deleted {sessions} expired or revoked sessions, {throttles} stale login throttles, "
        f"{mailed} used or expired mailed tokens and {personal} revoked or expired personal "
        "access tokens."
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
