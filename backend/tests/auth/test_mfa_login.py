"""Logging in with a second factor: no session on the password alone, the mfa_token and its
limits, codes accepted once within one step of skew, recovery codes, throttling, and what the
tokens then say (auth_time, amr)."""

import jwt
import pyotp
from sqlalchemy import update

from app.auth.models import TotpCredential
from tests.auth.conftest import MFA_STEP_SECONDS, start_mfa_login, verify
from tests.helpers import (
    PASSWORD,
    WRONG_PASSWORD,
    assert_401,
    assert_error,
    attempt_login,
    bearer,
    login,
)


def claims_of(access_token: str) -> dict:
    # The claims as written; the signature is the token tests' business.
    return jwt.decode(access_token, options={"verify_signature": False})


async def test_the_right_password_gives_an_mfa_token_and_no_tokens(enroll, client):
    enrolled = await enroll()

    response = await attempt_login(client, enrolled.user.email)

    assert_error(response, 403, "mfa_required")
    body = response.json()
    assert body["error"] == "mfa_required"
    assert body["methods"] == ["totp", "recovery_code"]
    assert body["mfa_token"]
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert "set-cookie" not in response.headers


async def test_a_browser_gets_no_cookie_before_the_second_step(enroll, client):
    enrolled = await enroll()

    response = await attempt_login(client, enrolled.user.email, headers={"X-Client": "browser"})

    assert_error(response, 403, "mfa_required")
    assert "set-cookie" not in response.headers


async def test_a_wrong_password_is_the_usual_401(enroll, client):
    enrolled = await enroll()

    response = await attempt_login(client, enrolled.user.email, WRONG_PASSWORD)

    assert_401(response, "invalid_credentials")
    assert "mfa_token" not in response.json()


async def test_a_code_with_the_mfa_token_gives_the_tokens(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    response = await verify(client, mfa_token, code=enrolled.next_code())

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["refresh_token"]
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["id"] == enrolled.user.id
    claims = claims_of(tokens["access_token"])
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["auth_time"] == claims["iat"]


async def test_a_browser_gets_the_refresh_cookie_after_the_second_step(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email, headers={"X-Client": "browser"})

    response = await client.post(
        "/auth/mfa/verify",
        json={"mfa_token": mfa_token, "code": enrolled.next_code()},
        headers={"X-Client": "browser"},
    )

    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert "refresh_token=" in response.headers["set-cookie"]


async def test_a_recovery_code_gives_the_tokens_with_amr_mfa(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    response = await verify(client, mfa_token, recovery_code=enrolled.recovery_codes[3])

    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["amr"] == ["pwd", "mfa"]
    status = await client.get("/users/me/mfa", headers=bearer(response.json()["access_token"]))
    assert status.json()["recovery_codes_left"] == 9


async def test_a_recovery_code_is_read_without_its_dash_or_case(enroll, client):
    enrolled = await enroll()
    typed = enrolled.recovery_codes[0].replace("-", " ").upper()

    response = await verify(
        client, await start_mfa_login(client, enrolled.user.email), recovery_code=typed
    )

    assert response.status_code == 200


async def test_a_recovery_code_works_once(enroll, client):
    enrolled = await enroll()
    code = enrolled.recovery_codes[0]
    await verify(client, await start_mfa_login(client, enrolled.user.email), recovery_code=code)

    again = await verify(
        client, await start_mfa_login(client, enrolled.user.email), recovery_code=code
    )

    assert_error(again, 400, "invalid_mfa_code")
    assert again.json()["error"] == "invalid_grant"


async def test_a_code_is_accepted_once(enroll, client):
    enrolled = await enroll()
    code = enrolled.next_code()
    first = await verify(client, await start_mfa_login(client, enrolled.user.email), code=code)

    replayed = await verify(client, await start_mfa_login(client, enrolled.user.email), code=code)

    assert first.status_code == 200
    assert_error(replayed, 400, "invalid_mfa_code")


async def test_a_code_of_the_step_before_is_accepted(enroll, client, clock):
    enrolled = await enroll()
    clock.advance(seconds=2 * MFA_STEP_SECONDS)
    previous = pyotp.TOTP(enrolled.secret).at(clock.now.timestamp() - MFA_STEP_SECONDS)

    response = await verify(
        client, await start_mfa_login(client, enrolled.user.email), code=previous
    )

    assert response.status_code == 200


async def test_a_code_of_the_step_after_is_accepted(enroll, client, clock):
    enrolled = await enroll()
    clock.advance(seconds=MFA_STEP_SECONDS)
    following = pyotp.TOTP(enrolled.secret).at(clock.now.timestamp() + MFA_STEP_SECONDS)

    response = await verify(
        client, await start_mfa_login(client, enrolled.user.email), code=following
    )

    assert response.status_code == 200


async def test_a_code_two_steps_old_is_refused(enroll, client, clock):
    enrolled = await enroll()
    clock.advance(seconds=3 * MFA_STEP_SECONDS)
    stale = pyotp.TOTP(enrolled.secret).at(clock.now.timestamp() - 2 * MFA_STEP_SECONDS)

    response = await verify(client, await start_mfa_login(client, enrolled.user.email), code=stale)

    assert_error(response, 400, "invalid_mfa_code")


async def test_an_older_code_is_refused_after_a_newer_one_was_used(enroll, client, clock):
    enrolled = await enroll()
    clock.advance(seconds=2 * MFA_STEP_SECONDS)
    older = pyotp.TOTP(enrolled.secret).at(clock.now.timestamp() - MFA_STEP_SECONDS)
    await verify(client, await start_mfa_login(client, enrolled.user.email), code=enrolled.code())

    response = await verify(client, await start_mfa_login(client, enrolled.user.email), code=older)

    assert_error(response, 400, "invalid_mfa_code")


async def test_the_mfa_token_is_not_a_bearer_token(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    response = await client.get("/users/me", headers=bearer(mfa_token))

    assert_401(response, "invalid_token")


async def test_the_mfa_token_is_not_a_refresh_token(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    response = await client.post("/auth/refresh", json={"refresh_token": mfa_token})

    assert_401(response, "invalid_token")


async def test_the_mfa_token_expires_after_five_minutes(enroll, client, clock):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)
    clock.advance(minutes=5)

    response = await verify(client, mfa_token, code=enrolled.code())

    assert_401(response, "invalid_mfa_token")


async def test_the_mfa_token_works_once(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)
    await verify(client, mfa_token, code=enrolled.next_code())

    response = await verify(client, mfa_token, code=enrolled.next_code())

    assert_401(response, "invalid_mfa_token")


async def test_the_mfa_token_allows_five_attempts(enroll, client, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "login_max_failures", 100)
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)
    for _ in range(5):
        assert_error(await verify(client, mfa_token, code="000000"), 400, "invalid_mfa_code")

    response = await verify(client, mfa_token, code=enrolled.next_code())

    assert_401(response, "invalid_mfa_token")


async def test_wrong_codes_lock_the_account_out(enroll, client, settings):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)  # attempt 1
    for _ in range(settings.login_max_failures - 1):
        assert_error(await verify(client, mfa_token, code="000000"), 400, "invalid_mfa_code")

    locked = await verify(client, mfa_token, code=enrolled.next_code())

    assert_error(locked, 429, "rate_limited")
    assert int(locked.headers["Retry-After"]) > 0
    assert_error(await attempt_login(client, enrolled.user.email), 429, "rate_limited")


async def test_an_unfinished_second_step_keeps_the_attempt_counted(enroll, client, settings):
    """Else each new login would wipe what its wrong codes counted, and codes could be
    guessed without end, a few per login."""
    enrolled = await enroll()
    for _ in range(settings.login_max_failures):
        await start_mfa_login(client, enrolled.user.email)

    response = await attempt_login(client, enrolled.user.email)

    assert_error(response, 429, "rate_limited")


async def test_a_finished_second_step_forgets_the_failures(enroll, client, settings):
    enrolled = await enroll()
    for _ in range(settings.login_max_failures - 2):
        await start_mfa_login(client, enrolled.user.email)
    await verify(
        client, await start_mfa_login(client, enrolled.user.email), code=enrolled.next_code()
    )

    for _ in range(settings.login_max_failures - 1):
        await start_mfa_login(client, enrolled.user.email)


async def test_a_refresh_keeps_auth_time_and_amr(enroll, client, clock):
    enrolled = await enroll()
    tokens = (
        await verify(
            client, await start_mfa_login(client, enrolled.user.email), code=enrolled.next_code()
        )
    ).json()
    clock.advance(minutes=3)

    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    before, after = claims_of(tokens["access_token"]), claims_of(refreshed.json()["access_token"])
    assert after["iat"] > before["iat"]
    assert (after["auth_time"], after["amr"]) == (before["auth_time"], ["pwd", "otp"])


async def test_a_password_login_says_amr_pwd(client, make_user):
    user = await make_user()

    claims = claims_of((await login(client, user.email, PASSWORD))["access_token"])

    assert claims["amr"] == ["pwd"]


async def test_a_secret_no_configured_key_opens_gives_503_not_a_wrong_code(enroll, client, session):
    # As after a key was removed from ENCRYPTION_KEYS: the operator's to mend, said plainly.
    enrolled = await enroll()
    await session.execute(
        update(TotpCredential)
        .where(TotpCredential.user_id == enrolled.user.id)
        .values(secret_sealed="v1.0000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    )
    await session.commit()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    response = await verify(client, mfa_token, code=enrolled.next_code())

    assert_error(response, 503, "service_unavailable")
