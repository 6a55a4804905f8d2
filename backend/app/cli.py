"""Operator commands: `python -m app.cli --help` (from backend/, with the venv)."""

import asyncio
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from app.auth.passwords import password_problem
from app.auth.schemas import Email
from app.core.config import SettingsError, load_settings
from app.core.database import Database
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
    """Create an admin, or grant admin to the existing user with this email (idempotent)."""
    try:
        normalized = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        raise typer.BadParameter("not a valid email address", param_hint="--email") from None
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None

    async def run() -> bool:
        database = Database(settings)
        try:
            async with database.sessionmaker.begin() as session:
                return await grant_admin(
                    session, PasswordHasher(settings), email=normalized, password=_password_for
                )
        finally:
            await database.dispose()

    async def _password_for() -> str:
        chosen = password if password is not None else _ask_password()
        if (problem := password_problem(chosen, normalized)) is not None:
            typer.echo(f"Password refused: {problem}", err=True)
            raise typer.Exit(1)
        return chosen

    created = asyncio.run(run())
    typer.echo(f"{'Created admin' if created else 'Granted admin to'} {normalized}.")


def _ask_password() -> str:
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


if __name__ == "__main__":
    cli()
