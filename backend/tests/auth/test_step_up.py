"""Recent authentication (RFC 9470 step-up): the account-changing routes refuse an access
token whose sign-in is older than STEP_UP_MAX_AGE_SECONDS, and /auth/reauthenticate gives a
fresh one in the same session."""

import jwt
import pytest

from tests.helpers import (
    PASSWORD,
    WRONG_PASSWORD,
    assert_error,
    bearer,
    login,
)

# Each route that needs a recent sign-in, with a body it would otherwise accept.
GUARDED = [
    ("POST", "/users/me/password", {"current_password": PASSWORD, "new_password": "x" * 20}),
    ("POST", "/users/me/email", {"new_email": "moved@example.com", "password": PASSWORD}),
    ("POST", "/users/me/mfa/totp", None),
    ("POST", "/users/me/mfa/recovery-codes", None),
    ("DELETE", "/users/me/mfa/totp", {"code": "123456"}),
]


def claims_of(access_token: str) -> dict:
    # The claims as written; the signature is the token tests' business.
    return jwt.decode(access_token, options={"verify_signature": False})


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
async def test_a_sign_in_older_than_five_minutes_cannot_change_the_account(
    client, make_user, clock, method, path, body
):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(minutes=5, seconds=1)
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    response = await client.request(
        method, path, json=body, headers=bearer(refreshed.json()["access_token"])
    )

    assert_error(response, 401, "insufficient_user_authentication")
    assert response.json()["error"] == "insufficient_user_authentication"
    assert response.json()["max_age"] == 300
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_user_authentication"' in challenge
    assert "max_age=300" in challenge


async def test_a_fresh_sign_in_may_change_the_password(client, make_user):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]

    response = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer(access_token),
    )

    assert response.status_code == 204


async def test_reauthenticating_gives_a_fresh_token_in_the_same_session(client, make_user, clock):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(minutes=10)
    old = (
        await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()["access_token"]

    response = await client.post(
        "/auth/reauthenticate", json={"password": PASSWORD}, headers=bearer(old)
    )

    assert response.status_code == 200
    fresh = response.json()["access_token"]
    assert "refresh_token" not in response.json()
    assert claims_of(fresh)["sid"] == claims_of(old)["sid"]
    assert claims_of(fresh)["auth_time"] > claims_of(old)["auth_time"]
    changed = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer(fresh),
    )
    assert changed.status_code == 204


async def test_a_refresh_after_reauthenticating_keeps_the_new_auth_time(client, make_user, clock):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(minutes=10)
    fresh = (
        await client.post(
            "/auth/reauthenticate",
            json={"password": PASSWORD},
            headers=bearer(await _refreshed(client, tokens)),
        )
    ).json()["access_token"]
    clock.advance(minutes=1)

    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert claims_of(refreshed.json()["access_token"])["auth_time"] == claims_of(fresh)["auth_time"]


async def _refreshed(client, tokens) -> str:
    response = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    tokens["refresh_token"] = response.json()["refresh_token"]
    return str(response.json()["access_token"])


async def test_reauthenticating_with_a_wrong_password_is_refused_and_counted(
    client, make_user, settings
):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]
    for _ in range(settings.login_max_failures):
        response = await client.post(
            "/auth/reauthenticate", json={"password": WRONG_PASSWORD}, headers=bearer(access_token)
        )
        assert_error(response, 400, "invalid_current_password")

    response = await client.post(
        "/auth/reauthenticate", json={"password": PASSWORD}, headers=bearer(access_token)
    )

    assert_error(response, 429, "rate_limited")


async def test_reauthenticating_an_mfa_account_needs_a_code(enroll, client):
    enrolled = await enroll()

    response = await client.post(
        "/auth/reauthenticate", json={"password": PASSWORD}, headers=bearer(enrolled.access_token)
    )

    assert_error(response, 403, "mfa_required")
    assert response.json()["methods"] == ["totp", "recovery_code"]


async def test_reauthenticating_an_mfa_account_with_a_code_says_amr_otp(enroll, client):
    enrolled = await enroll()

    response = await client.post(
        "/auth/reauthenticate",
        json={"password": PASSWORD, "code": enrolled.next_code()},
        headers=bearer(enrolled.access_token),
    )

    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["amr"] == ["pwd", "otp"]


async def test_reauthenticating_with_a_wrong_code_is_refused(enroll, client):
    enrolled = await enroll()

    response = await client.post(
        "/auth/reauthenticate",
        json={"password": PASSWORD, "code": "000000"},
        headers=bearer(enrolled.access_token),
    )

    assert_error(response, 400, "invalid_mfa_code")


async def test_the_maximum_age_is_a_setting(client, make_user, clock, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "step_up_max_age_seconds", 60)
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(seconds=61)

    response = await client.post(
        "/users/me/mfa/totp", headers=bearer(await _refreshed(client, tokens))
    )

    assert_error(response, 401, "insufficient_user_authentication")
    assert "max_age=60" in response.headers["WWW-Authenticate"]
