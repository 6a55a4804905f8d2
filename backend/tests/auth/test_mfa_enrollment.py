"""Turning the second factor on and off: enrollment with a QR code, confirmation with a first
code, recovery codes shown once, and what is stored (sealed secrets, keyed hashes)."""

import base64
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
from sqlalchemy import select, text

from app.audit_log.models import AuditEvent
from app.auth.models import RecoveryCode, TotpCredential
from tests.auth.conftest import start_enrollment, start_mfa_login, verify
from tests.helpers import PASSWORD, assert_error, attempt_login, bearer, end_read, login


async def test_enrolling_returns_a_160_bit_secret_its_otpauth_uri_and_a_qr_code(client, make_user):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]

    enrollment = await start_enrollment(client, access_token)

    assert len(base64.b32decode(enrollment["secret"])) * 8 == 160
    assert enrollment["qr_svg"].lstrip().startswith("<svg")
    uri = urlsplit(enrollment["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    query = parse_qs(uri.query)
    assert query["secret"] == [enrollment["secret"]]
    assert query["issuer"] == ["py-auth"]
    assert unquote(uri.path) == f"/py-auth:{user.email}"
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]


async def test_mfa_stays_off_until_a_code_confirms_it(client, make_user):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]
    await start_enrollment(client, access_token)

    status = (await client.get("/users/me/mfa", headers=bearer(access_token))).json()

    assert status["enabled"] is False
    assert status["pending"] is True
    assert (await attempt_login(client, user.email)).status_code == 200


async def test_confirming_turns_mfa_on_and_returns_ten_recovery_codes(enroll, client):
    enrolled = await enroll()

    status = (await client.get("/users/me/mfa", headers=bearer(enrolled.access_token))).json()

    assert len(enrolled.recovery_codes) == len(set(enrolled.recovery_codes)) == 10
    assert status["enabled"] is True
    assert status["recovery_codes_left"] == 10
    assert status["methods"] == ["totp", "recovery_code"]
    assert "secret" not in status
    assert "recovery_codes" not in status


async def test_users_me_says_whether_mfa_is_on(enroll, client):
    enrolled = await enroll()

    me = (await client.get("/users/me", headers=bearer(enrolled.access_token))).json()

    assert me["mfa_enabled"] is True


async def test_a_wrong_confirming_code_leaves_mfa_off(client, make_user, clock):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]
    secret = (await start_enrollment(client, access_token))["secret"]
    wrong = pyotp.TOTP(secret).at(clock.now - timedelta(minutes=5))

    response = await client.post(
        "/users/me/mfa/totp/confirm", json={"code": wrong}, headers=bearer(access_token)
    )

    assert_error(response, 400, "invalid_mfa_code")
    status = (await client.get("/users/me/mfa", headers=bearer(access_token))).json()
    assert status["enabled"] is False


async def test_a_pending_enrollment_expires_after_ten_minutes(client, make_user, clock):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]
    secret = (await start_enrollment(client, access_token))["secret"]
    clock.advance(minutes=10, seconds=1)
    access_token = (await login(client, user.email))["access_token"]

    response = await client.post(
        "/users/me/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).at(clock.now)},
        headers=bearer(access_token),
    )

    assert_error(response, 400, "no_pending_enrollment")


async def test_confirming_without_an_enrollment_is_refused(client, make_user):
    user = await make_user()
    access_token = (await login(client, user.email))["access_token"]

    response = await client.post(
        "/users/me/mfa/totp/confirm", json={"code": "123456"}, headers=bearer(access_token)
    )

    assert_error(response, 400, "no_pending_enrollment")


async def test_confirming_ends_the_other_sessions_but_not_this_one(client, make_user, enroll):
    user = await make_user()
    other = await login(client, user.email)

    enrolled = await enroll(user)

    assert (await client.get("/users/me", headers=bearer(enrolled.access_token))).status_code == 200
    assert_error(
        await client.get("/users/me", headers=bearer(other["access_token"])), 401, "invalid_token"
    )
    refresh = await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert refresh.status_code == 401


async def test_confirming_mails_a_notice_and_is_audited(enroll, mailbox, session):
    enrolled = await enroll()

    assert "turned on" in mailbox.text(mailbox.only(enrolled.user.email, "mfa_enabled"))
    events = set(
        await session.scalars(
            select(AuditEvent.event).where(AuditEvent.subject_user_id == enrolled.user.id)
        )
    )
    await end_read(session)
    assert {"mfa_enrollment_started", "mfa_enabled"} <= events


async def test_enrolling_again_while_mfa_is_on_is_a_conflict(enroll, client):
    enrolled = await enroll()

    response = await client.post("/users/me/mfa/totp", headers=bearer(enrolled.access_token))

    assert_error(response, 409, "mfa_already_enabled")


async def test_the_secret_is_sealed_and_the_recovery_codes_are_keyed_hashes(enroll, session):
    enrolled = await enroll()

    credential = await session.get(TotpCredential, enrolled.user.id)
    hashes = list(
        await session.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.user_id == enrolled.user.id)
        )
    )
    await end_read(session)
    assert credential is not None
    assert enrolled.secret not in credential.secret_sealed
    assert credential.secret_sealed.startswith("v1.")
    assert len(hashes) == 10
    for code in enrolled.recovery_codes:
        assert code not in hashes
        assert code.replace("-", "") not in hashes


async def test_no_secret_or_code_is_in_any_column_of_the_database(enroll, session):
    enrolled = await enroll()
    secrets_ = [enrolled.secret, *enrolled.recovery_codes]
    secrets_ += [code.replace("-", "") for code in enrolled.recovery_codes]

    found = []
    for table in ("totp_credentials", "recovery_codes", "audit_events", "users", "auth_sessions"):
        rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
        dump = repr(rows)
        found += [(table, value) for value in secrets_ if value in dump]
    await end_read(session)

    assert found == []


async def test_the_confirming_code_cannot_log_in_again(enroll, client):
    enrolled = await enroll()
    mfa_token = await start_mfa_login(client, enrolled.user.email)

    response = await verify(client, mfa_token, code=enrolled.code())

    assert_error(response, 400, "invalid_mfa_code")


async def test_new_recovery_codes_replace_the_old_set(enroll, client):
    enrolled = await enroll()

    response = await client.post(
        "/users/me/mfa/recovery-codes", headers=bearer(enrolled.access_token)
    )

    assert response.status_code == 200
    new_codes = response.json()["recovery_codes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(enrolled.recovery_codes)
    old = await verify(
        client,
        await start_mfa_login(client, enrolled.user.email),
        recovery_code=enrolled.recovery_codes[0],
    )
    assert_error(old, 400, "invalid_mfa_code")
    new = await verify(
        client, await start_mfa_login(client, enrolled.user.email), recovery_code=new_codes[0]
    )
    assert new.status_code == 200


async def test_turning_mfa_off_needs_a_current_code(enroll, client):
    enrolled = await enroll()

    response = await client.request(
        "DELETE",
        "/users/me/mfa/totp",
        json={"code": "000000"},
        headers=bearer(enrolled.access_token),
    )

    assert_error(response, 400, "invalid_mfa_code")
    status = (await client.get("/users/me/mfa", headers=bearer(enrolled.access_token))).json()
    assert status["enabled"] is True


async def test_turning_mfa_off_lets_the_password_alone_log_in_again(enroll, client, mailbox):
    enrolled = await enroll()

    response = await client.request(
        "DELETE",
        "/users/me/mfa/totp",
        json={"code": enrolled.next_code()},
        headers=bearer(enrolled.access_token),
    )

    assert response.status_code == 204
    assert (await attempt_login(client, enrolled.user.email, PASSWORD)).status_code == 200
    assert mailbox.only(enrolled.user.email, "mfa_disabled")
