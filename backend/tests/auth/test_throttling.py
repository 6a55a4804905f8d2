"""Per-account throttling of failed logins: the lockout, its doubling, what ends it, and what
it leaves alone. Counted per normalized email in the database, known account or not."""

from unittest.mock import AsyncMock

from tests.helpers import PASSWORD, WRONG_PASSWORD, attempt_login, bearer, login


async def _fail(client, email: str, times: int) -> None:
    for _ in range(times):
        response = await attempt_login(client, email, WRONG_PASSWORD)
        assert response.status_code == 401, response.text


async def _lock_out(client, settings, email: str) -> None:
    await _fail(client, email, settings.login_max_failures)


async def _lockout_seconds(client, email: str) -> int:
    """The Retry-After of a login attempt, which must be refused by a lockout."""
    response = await attempt_login(client, email)
    assert response.status_code == 429, response.text
    return int(response.headers["Retry-After"])


async def test_failures_under_the_limit_do_not_lock_the_account(client, make_user, settings, clock):
    user = await make_user()
    await _fail(client, user.email, settings.login_max_failures - 1)

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text


async def test_the_attempt_after_max_failures_gets_429_rate_limited(
    client, make_user, settings, clock
):
    user = await make_user()
    await _lock_out(client, settings, user.email)

    response = await attempt_login(client, user.email, WRONG_PASSWORD)

    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert response.headers["Retry-After"] == str(settings.login_lockout_seconds)


async def test_the_right_password_is_refused_during_a_lockout(client, make_user, settings, clock):
    user = await make_user()
    await _lock_out(client, settings, user.email)

    response = await attempt_login(client, user.email, PASSWORD)

    assert response.status_code == 429, response.text
    assert "access_token" not in response.json()


async def test_no_password_is_verified_during_a_lockout(
    app, client, make_user, settings, clock, monkeypatch
):
    user = await make_user()
    await _lock_out(client, settings, user.email)
    hasher = app.state.password_hasher
    verify = AsyncMock(wraps=hasher.verify_and_update)
    verify_dummy = AsyncMock(wraps=hasher.verify_dummy)
    monkeypatch.setattr(hasher, "verify_and_update", verify)
    monkeypatch.setattr(hasher, "verify_dummy", verify_dummy)

    response = await attempt_login(client, user.email, PASSWORD)

    assert response.status_code == 429
    verify.assert_not_awaited()
    verify_dummy.assert_not_awaited()


async def test_retry_after_counts_down_to_the_end_of_the_lockout(
    client, make_user, settings, clock
):
    user = await make_user()
    await _lock_out(client, settings, user.email)
    clock.advance(seconds=settings.login_lockout_seconds - 15)

    assert await _lockout_seconds(client, user.email) == 15


async def test_login_works_again_when_the_lockout_ends(client, make_user, settings, clock):
    user = await make_user()
    await _lock_out(client, settings, user.email)
    clock.advance(seconds=settings.login_lockout_seconds)

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text


async def test_each_new_lockout_lasts_twice_as_long_as_the_last(client, make_user, settings, clock):
    user = await make_user()
    durations = []
    for _ in range(3):
        await _lock_out(client, settings, user.email)
        durations.append(await _lockout_seconds(client, user.email))
        clock.advance(seconds=durations[-1])

    base = settings.login_lockout_seconds
    assert durations == [base, 2 * base, 4 * base]


async def test_lockouts_stop_growing_at_the_maximum(client, make_user, settings, clock):
    user = await make_user()
    durations = []
    for _ in range(7):
        await _lock_out(client, settings, user.email)
        durations.append(await _lockout_seconds(client, user.email))
        clock.advance(seconds=durations[-1])

    maximum = settings.login_lockout_max_seconds
    assert max(durations) == maximum
    assert durations[-2:] == [maximum, maximum]


async def test_a_lockout_long_past_does_not_lengthen_the_next(client, make_user, settings, clock):
    user = await make_user()
    await _lock_out(client, settings, user.email)
    clock.advance(seconds=settings.login_lockout_seconds + settings.login_failure_window + 1)
    await _lock_out(client, settings, user.email)

    assert await _lockout_seconds(client, user.email) == settings.login_lockout_seconds


async def test_failures_older_than_the_window_are_forgotten(client, make_user, settings, clock):
    user = await make_user()
    await _fail(client, user.email, settings.login_max_failures - 1)
    clock.advance(seconds=settings.login_failure_window + 1)
    await _fail(client, user.email, settings.login_max_failures - 1)

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text


async def test_a_successful_login_resets_the_failure_count(client, make_user, settings, clock):
    user = await make_user()
    await _fail(client, user.email, settings.login_max_failures - 1)
    await login(client, user.email)
    await _fail(client, user.email, settings.login_max_failures - 1)

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text


async def test_an_unknown_email_is_throttled_exactly_like_a_known_one(
    client, make_user, settings, clock
):
    user = await make_user()
    answers = {}
    for email in (user.email, "nobody@example.com"):
        responses = [
            await attempt_login(client, email, WRONG_PASSWORD)
            for _ in range(settings.login_max_failures + 2)
        ]
        answers[email] = [
            (response.status_code, response.content, response.headers.get("Retry-After"))
            for response in responses
        ]

    known, unknown = answers.values()
    assert known == unknown
    assert [status for status, _, _ in known] == [401] * settings.login_max_failures + [429, 429]


async def test_an_inactive_account_counts_failures_even_with_the_right_password(
    client, make_user, settings, clock
):
    user = await make_user(is_active=False)
    for _ in range(settings.login_max_failures):
        assert (await attempt_login(client, user.email, PASSWORD)).status_code == 401

    response = await attempt_login(client, user.email, PASSWORD)

    assert response.status_code == 429


async def test_the_lockout_holds_for_the_email_in_any_case(client, make_user, settings, clock):
    user = await make_user("alice@example.com")
    await _lock_out(client, settings, user.email)

    response = await attempt_login(client, "  ALICE@Example.COM ")

    assert response.status_code == 429


async def test_a_lockout_leaves_other_accounts_alone(client, make_user, settings, clock):
    locked = await make_user()
    other = await make_user()
    await _lock_out(client, settings, locked.email)

    response = await attempt_login(client, other.email)

    assert response.status_code == 200, response.text


async def test_the_owners_access_token_keeps_working_during_a_lockout(
    client, make_user, settings, clock
):
    user = await make_user()
    tokens = await login(client, user.email)
    await _lock_out(client, settings, user.email)

    response = await client.get("/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200, response.text


async def test_the_owners_refresh_token_keeps_working_during_a_lockout(
    client, make_user, settings, clock
):
    user = await make_user()
    tokens = await login(client, user.email)
    await _lock_out(client, settings, user.email)

    response = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200, response.text


async def test_an_admin_unlock_lifts_the_lockout(client, make_user, auth_headers, settings, clock):
    user = await make_user()
    admin = await make_user(roles=["admin"])
    await _lock_out(client, settings, user.email)

    unlock = await client.post(f"/users/{user.id}/unlock", headers=await auth_headers(admin))

    assert unlock.status_code == 204, unlock.text
    assert (await attempt_login(client, user.email)).status_code == 200


async def test_an_admin_unlock_forgets_the_counted_failures(
    client, make_user, auth_headers, settings, clock
):
    user = await make_user()
    admin = await make_user(roles=["admin"])
    await _fail(client, user.email, settings.login_max_failures - 1)
    await client.post(f"/users/{user.id}/unlock", headers=await auth_headers(admin))
    await _fail(client, user.email, settings.login_max_failures - 1)

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text


async def test_an_unlock_without_update_user_is_refused_and_the_lockout_stays(
    client, make_user, auth_headers, settings, clock
):
    user = await make_user()
    editor = await make_user(roles=["editor"])
    await _lock_out(client, settings, user.email)

    unlock = await client.post(f"/users/{user.id}/unlock", headers=await auth_headers(editor))

    assert unlock.status_code == 403
    assert unlock.json()["missing"] == ["update_user"]
    assert (await attempt_login(client, user.email)).status_code == 429


async def test_unlocking_an_unknown_user_gives_404(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post("/users/424242/unlock", headers=await auth_headers(admin))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
