"""`python -m app.cli keys list|rotate|retire KID [--now]`."""

import asyncio

from typer.testing import CliRunner

from app.cli import cli
from app.core.clock import utcnow
from tests.helpers import assert_401, bearer, login

runner = CliRunner()


async def _keys(*arguments: str):
    # The commands run their own event loop: in a thread, beside the test's.
    return await asyncio.to_thread(runner.invoke, cli, ["keys", *arguments])


async def test_keys_list_shows_each_key_with_its_state(cli_environment, ring):
    result = await _keys("list")

    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"{ring.signing_key(utcnow()).kid}  RS256  active")


async def test_keys_rotate_publishes_one_next_key(cli_environment):
    first = await _keys("rotate")
    second = await _keys("rotate")
    listed = await _keys("list")

    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert first.output.startswith("Published key ")
    assert second.output.startswith("Already published: key ")
    assert [line.split()[2] for line in listed.output.splitlines()] == ["active", "next"]


async def test_keys_retire_now_ends_the_keys_tokens(cli_environment, client, make_user, ring):
    user = await make_user()
    token = (await login(client, user.email))["access_token"]
    kid = ring.signing_key(utcnow()).kid

    result = await _keys("retire", kid, "--now")

    assert result.exit_code == 0, result.output
    assert f"Retired key {kid}" in result.output
    assert "signs from now on (a new key, not published ahead)" in result.output
    assert_401(await client.get("/users/me", headers=bearer(token)), "invalid_token")


async def test_keys_retire_lets_the_keys_tokens_expire(cli_environment, client, make_user, ring):
    user = await make_user()
    token = (await login(client, user.email))["access_token"]
    kid = ring.signing_key(utcnow()).kid

    result = await _keys("retire", kid)

    assert result.exit_code == 0, result.output
    assert f"Key {kid} no longer signs; it verifies until" in result.output
    assert (await client.get("/users/me", headers=bearer(token))).status_code == 200


async def test_keys_retire_of_an_unknown_kid_fails(cli_environment):
    result = await _keys("retire", "no-such-kid")

    assert result.exit_code == 1
    assert "No signing key no-such-kid." in result.output


async def test_keys_commands_refuse_an_hmac_algorithm(cli_environment, monkeypatch):
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")

    result = await _keys("rotate")

    assert result.exit_code == 1
    assert "JWT_ALGORITHM is HS256" in result.output
