"""Second factors used at once: every "once" holds under 20 parallel requests (PostgreSQL,
where requests really run in parallel)."""

import asyncio

import pytest

from tests.auth.conftest import start_mfa_login, verify
from tests.helpers import postgres_only

pytestmark = postgres_only
PARALLEL = 20


@pytest.fixture(autouse=True)
def _no_lockout_in_the_way(app, monkeypatch):
    # The burst itself is what is tested here, not the account's lockout.
    monkeypatch.setattr(app.state.settings, "login_max_failures", 1000)


async def test_twenty_parallel_logins_with_the_same_code_give_one_session(enroll, client):
    enrolled = await enroll()
    mfa_tokens = [await start_mfa_login(client, enrolled.user.email) for _ in range(PARALLEL)]
    code = enrolled.next_code()

    responses = await asyncio.gather(*(verify(client, token, code=code) for token in mfa_tokens))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * (PARALLEL - 1)


async def test_a_recovery_code_tried_twenty_times_at_once_works_once(enroll, client):
    enrolled = await enroll()
    mfa_tokens = [await start_mfa_login(client, enrolled.user.email) for _ in range(PARALLEL)]
    code = enrolled.recovery_codes[0]

    responses = await asyncio.gather(
        *(verify(client, token, recovery_code=code) for token in mfa_tokens)
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * (PARALLEL - 1)


async def test_twenty_parallel_codes_on_one_mfa_token_get_five_attempts(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    responses = await asyncio.gather(
        *(verify(client, mfa_token, code=f"{n:06d}") for n in range(PARALLEL))
    )

    codes = [response.json()["code"] for response in responses]
    assert codes.count("invalid_mfa_code") == 5
    assert codes.count("invalid_mfa_token") == PARALLEL - 5
