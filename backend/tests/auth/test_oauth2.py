"""The token endpoints as OAuth2 client libraries see them: the RFC 6749 password (§4.3) and
refresh (§6) grants as forms, RFC 7009 revocation, RFC 6749 §5.2 `error` fields beside our
`detail` and `code`, RFC 6750 §3 challenges on protected endpoints, and RFC 9068 `typ`."""

import re
from datetime import timedelta
from typing import Any

import pytest

from app.core.clock import utcnow
from app.core.errors import InvalidToken
from tests.helpers import PASSWORD, attempt_login, bearer, forge_access_token, login

FORM = "application/x-www-form-urlencoded"
# What authlib and requests-oauthlib send: the media type with a charset parameter.
FORM_WITH_CHARSET = "application/x-www-form-urlencoded;charset=UTF-8"
TOKEN_RESPONSE_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token"}
# RFC 6750 §3: error_description is limited to these characters (no '"' and no '\').
CHALLENGE_TEXT = re.compile(r"[\x20\x21\x23-\x5B\x5D-\x7E]*")
AUTH_PARAM = re.compile(r'\s*([A-Za-z_]+)="([^"\\]*)"\s*(?:,|$)')


async def _refresh_form(client, refresh_token: str | None, **fields: str):
    data = {"grant_type": "refresh_token", **fields}
    if refresh_token is not None:
        data["refresh_token"] = refresh_token
    return await client.post("/auth/refresh", data=data)


async def _revoke(client, token: str, **fields: str):
    return await client.post("/auth/revoke", data={"token": token, **fields})


def _assert_oauth2_error(response, status: int, error: str, code: str) -> dict[str, Any]:
    """RFC 6749 §5.2 fields beside ours: `error_description` says what `detail` says."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["code"] == code
    assert body["error_description"] == body["detail"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def _challenge(response) -> tuple[str, dict[str, str]]:
    """The scheme and auth-params of a WWW-Authenticate header (RFC 7235 §4.1)."""
    scheme, _, rest = response.headers["WWW-Authenticate"].partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = AUTH_PARAM.match(rest, position)
        assert match, f"not an auth-param list: {rest!r}"
        params[match.group(1)] = match.group(2)
        position = match.end()
    return scheme, params


# --- POST /auth/login: the password grant (RFC 6749 §4.3) ------------------------------------


async def test_login_accepts_the_rfc6749_password_grant_with_scope_and_client_id(client, make_user):
    user = await make_user()

    response = await client.post(
        "/auth/login",
        data={
            "grant_type": "password",
            "username": user.email,
            "password": PASSWORD,
            "scope": "openid profile",
            "client_id": "swagger-ui",
        },
        headers={"Content-Type": FORM_WITH_CHARSET},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == TOKEN_RESPONSE_FIELDS
    assert body["token_type"] == "bearer"
    me = await client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.json()["id"] == user.id


async def test_login_with_a_wrong_password_answers_invalid_grant(client, make_user):
    user = await make_user()

    response = await client.post(
        "/auth/login",
        data={"grant_type": "password", "username": user.email, "password": "wrong password!"},
    )

    _assert_oauth2_error(response, 401, "invalid_grant", "invalid_credentials")


async def test_login_with_another_grant_type_answers_unsupported_grant_type(client, make_user):
    user = await make_user()

    response = await client.post(
        "/auth/login",
        data={"grant_type": "authorization_code", "username": user.email, "password": PASSWORD},
    )

    _assert_oauth2_error(response, 400, "unsupported_grant_type", "unsupported_grant_type")


async def test_login_without_a_password_answers_invalid_request(client, make_user):
    user = await make_user()

    response = await client.post(
        "/auth/login", data={"grant_type": "password", "username": user.email}
    )

    body = _assert_oauth2_error(response, 422, "invalid_request", "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "password"]]


async def test_login_with_an_unparsable_body_answers_invalid_request(client):
    response = await client.post(
        "/auth/login",
        content=b"--x\r\nnot a part",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )

    _assert_oauth2_error(response, 400, "invalid_request", "bad_request")


async def test_login_during_a_lockout_answers_invalid_request_with_retry_after(
    client, make_user, settings
):
    # RFC 6749 has no error for "too many attempts"; the status and Retry-After say it.
    user = await make_user()
    wrong = {"grant_type": "password", "username": user.email, "password": "wrong password!"}
    for _ in range(settings.login_max_failures):
        assert (await client.post("/auth/login", data=wrong)).status_code == 401

    response = await attempt_login(client, user.email)

    _assert_oauth2_error(response, 429, "invalid_request", "rate_limited")
    assert int(response.headers["Retry-After"]) > 0


async def test_token_response_is_not_cached(client, make_user):
    user = await make_user()

    response = await attempt_login(client, user.email)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"


async def test_token_error_response_is_not_cached(client):
    response = await attempt_login(client, "nobody@example.com")

    assert response.status_code == 401, response.text
    assert response.headers["Cache-Control"] == "no-store"


# --- POST /auth/refresh: the refresh grant (RFC 6749 §6) as a form -----------------------------


async def test_refresh_form_returns_a_token_response(client, make_user, settings):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _refresh_form(client, tokens["refresh_token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == TOKEN_RESPONSE_FIELDS
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["refresh_token"] != tokens["refresh_token"]
    me = await client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.json()["id"] == user.id


async def test_refresh_form_accepts_a_charset_and_ignores_scope_and_client_id(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await client.post(
        "/auth/refresh",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "scope": "openid",
            "client_id": "py-auth-cli",
        },
        headers={"Content-Type": FORM_WITH_CHARSET},
    )

    assert response.status_code == 200, response.text


async def test_refresh_form_rotates_the_presented_token(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    assert (await _refresh_form(client, tokens["refresh_token"])).status_code == 200

    response = await _refresh_form(client, tokens["refresh_token"])

    _assert_oauth2_error(response, 401, "invalid_grant", "token_revoked")


async def test_refresh_form_reuse_revokes_the_family(client, make_user):
    user = await make_user()
    stolen = (await login(client, user.email))["refresh_token"]
    newest = (await _refresh_form(client, stolen)).json()["refresh_token"]
    assert (await _refresh_form(client, stolen)).status_code == 401

    response = await _refresh_form(client, newest)

    _assert_oauth2_error(response, 401, "invalid_grant", "token_revoked")


async def test_refresh_form_with_an_unknown_token_answers_invalid_grant(client):
    response = await _refresh_form(client, "x" * 43)

    _assert_oauth2_error(response, 401, "invalid_grant", "invalid_token")


async def test_refresh_form_with_an_expired_token_answers_invalid_grant(
    client, make_user, settings, clock
):
    user = await make_user()
    tokens = await login(client, user.email)
    clock.advance(days=settings.refresh_token_days, minutes=1)

    response = await _refresh_form(client, tokens["refresh_token"])

    _assert_oauth2_error(response, 401, "invalid_grant", "token_expired")


async def test_refresh_form_without_grant_type_answers_invalid_request(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})

    body = _assert_oauth2_error(response, 422, "invalid_request", "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "grant_type"]]


async def test_refresh_form_with_another_grant_type_answers_unsupported_grant_type(
    client, make_user
):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _refresh_form(client, tokens["refresh_token"], grant_type="password")

    _assert_oauth2_error(response, 400, "unsupported_grant_type", "unsupported_grant_type")


async def test_refresh_form_without_refresh_token_answers_invalid_request(client):
    response = await _refresh_form(client, None)

    body = _assert_oauth2_error(response, 422, "invalid_request", "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "refresh_token"]]


async def test_refresh_form_with_an_empty_refresh_token_answers_invalid_request(client):
    response = await _refresh_form(client, "")

    _assert_oauth2_error(response, 422, "invalid_request", "validation_error")


async def test_refresh_json_with_an_unknown_token_also_answers_invalid_grant(client):
    response = await client.post("/auth/refresh", json={"refresh_token": "x" * 43})

    _assert_oauth2_error(response, 401, "invalid_grant", "invalid_token")


async def test_refresh_json_without_refresh_token_also_answers_invalid_request(client):
    response = await client.post("/auth/refresh", json={})

    _assert_oauth2_error(response, 422, "invalid_request", "validation_error")


async def test_refresh_in_another_media_type_answers_invalid_request(client):
    response = await client.post(
        "/auth/refresh", content=b"refresh_token=x", headers={"Content-Type": "text/plain"}
    )

    _assert_oauth2_error(response, 415, "invalid_request", "unsupported_media_type")


# --- POST /auth/revoke (RFC 7009) -------------------------------------------------------------


async def test_revoke_a_refresh_token_answers_200_and_ends_its_login(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _revoke(client, tokens["refresh_token"], token_type_hint="refresh_token")

    assert response.status_code == 200, response.text
    refreshed = await _refresh_form(client, tokens["refresh_token"])
    _assert_oauth2_error(refreshed, 401, "invalid_grant", "token_revoked")
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401


async def test_revoke_without_a_hint_finds_the_refresh_token(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    assert (await _revoke(client, tokens["refresh_token"])).status_code == 200

    assert (await _refresh_form(client, tokens["refresh_token"])).status_code == 401


async def test_revoke_with_a_wrong_hint_still_finds_the_refresh_token(client, make_user):
    # RFC 7009 §2.1: a token not found under the hint's type is looked for under the others.
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _revoke(client, tokens["refresh_token"], token_type_hint="access_token")

    assert response.status_code == 200, response.text
    assert (await _refresh_form(client, tokens["refresh_token"])).status_code == 401


async def test_revoke_an_access_token_ends_its_login(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)

    response = await _revoke(client, tokens["access_token"], token_type_hint="access_token")

    assert response.status_code == 200, response.text
    assert (await client.get("/users/me", headers=bearer(tokens["access_token"]))).status_code == (
        401
    )
    assert (await _refresh_form(client, tokens["refresh_token"])).status_code == 401


async def test_revoke_leaves_the_users_other_logins_alone(client, make_user):
    user = await make_user()
    revoked = await login(client, user.email)
    other = await login(client, user.email)

    assert (await _revoke(client, revoked["refresh_token"])).status_code == 200

    assert (await _refresh_form(client, other["refresh_token"])).status_code == 200


async def test_revoke_an_unknown_token_answers_200(client):
    response = await _revoke(client, "x" * 43, token_type_hint="refresh_token")

    assert response.status_code == 200, response.text


async def test_revoke_a_token_longer_than_any_we_issue_answers_200(client):
    # An access token grows with the issuer and audience settings: a long token is not a
    # malformed request, just one more token that is not ours.
    response = await _revoke(client, "x" * 600)

    assert response.status_code == 200, response.text


async def test_revoke_an_already_revoked_token_answers_200(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    assert (await _revoke(client, tokens["refresh_token"])).status_code == 200

    response = await _revoke(client, tokens["refresh_token"])

    assert response.status_code == 200, response.text


async def test_revoke_a_rotated_token_answers_200_and_ends_its_login(client, make_user):
    user = await make_user()
    first = (await login(client, user.email))["refresh_token"]
    second = (await _refresh_form(client, first)).json()["refresh_token"]

    assert (await _revoke(client, first)).status_code == 200

    assert (await _refresh_form(client, second)).status_code == 401


async def test_revoke_without_a_token_answers_invalid_request(client):
    response = await client.post("/auth/revoke", data={"token_type_hint": "refresh_token"})

    body = _assert_oauth2_error(response, 422, "invalid_request", "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "token"]]


async def test_revoke_response_is_not_cached(client):
    response = await _revoke(client, "x" * 43)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"


# --- Challenges of protected endpoints (RFC 6750 §3) -------------------------------------------


async def test_missing_token_gets_a_plain_bearer_challenge_with_a_realm(client):
    response = await client.get("/users/me")

    assert response.status_code == 401
    assert _challenge(response) == ("Bearer", {"realm": "py-auth"})


async def test_non_bearer_authorization_gets_a_plain_bearer_challenge(client):
    response = await client.get("/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert _challenge(response) == ("Bearer", {"realm": "py-auth"})


async def test_malformed_token_gets_an_invalid_token_challenge(client):
    response = await client.get("/users/me", headers=bearer("garbage"))

    assert response.status_code == 401
    scheme, params = _challenge(response)
    assert scheme == "Bearer"
    assert params["realm"] == "py-auth"
    assert params["error"] == "invalid_token"
    assert params["error_description"] == response.json()["detail"]


async def test_expired_token_gets_an_invalid_token_challenge(client, make_user, make_session, app):
    user = await make_user()
    past = utcnow() - timedelta(hours=1)
    token = forge_access_token(
        app,
        user.id,
        session_id=await make_session(user),
        iat=past,
        exp=past + timedelta(minutes=15),
    )

    response = await client.get("/users/me", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    _, params = _challenge(response)
    assert params["error"] == "invalid_token"
    assert params["error_description"] == response.json()["detail"]


async def test_token_of_an_ended_login_gets_an_invalid_token_challenge(client, make_user):
    user = await make_user()
    tokens = await login(client, user.email)
    assert (await _revoke(client, tokens["refresh_token"])).status_code == 200

    response = await client.get("/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert _challenge(response)[1]["error"] == "invalid_token"


def _challenge_description(message: str) -> str:
    header = InvalidToken(message).response_headers()["WWW-Authenticate"]
    return header.partition('error_description="')[2].removesuffix('"')


def test_challenge_error_description_replaces_double_quotes():
    description = _challenge_description('The token "abc" is bad.')

    assert CHALLENGE_TEXT.fullmatch(description), description


@pytest.mark.parametrize("message", ["Back\\slash.", "caf\u00e9 \u2014 expired\n"])
def test_challenge_error_description_keeps_to_the_rfc6750_characters(message):
    description = _challenge_description(message)

    assert CHALLENGE_TEXT.fullmatch(description), description


# --- typ of the access token (RFC 9068 §2.1, §4) -----------------------------------------------


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+JWT"])
async def test_access_token_typ_at_jwt_is_accepted_in_any_spelling_rfc9068_allows(
    client, make_user, make_session, app, typ
):
    user = await make_user()
    token = forge_access_token(app, user.id, session_id=await make_session(user), typ=typ)

    response = await client.get("/users/me", headers=bearer(token))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "typ",
    ["JWT", "id_token+jwt", "application/jwt", "at+jwt ", 1, ["at+jwt"]],
    ids=["JWT", "id-token", "application-jwt", "trailing-space", "number", "list"],
)
async def test_jwt_of_another_typ_signed_with_our_key_is_refused(
    client, make_user, make_session, app, typ
):
    user = await make_user()
    token = forge_access_token(app, user.id, session_id=await make_session(user), typ=typ)

    response = await client.get("/users/me", headers=bearer(token))

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_token"
