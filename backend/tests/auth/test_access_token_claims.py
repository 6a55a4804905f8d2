"""The claims of an access token hold what the service issues, or the token is refused before
any query is made of them: a session (`sid`) that is a UUID, a lifetime no longer than the
service gives, a subject that is a user id the users table can hold. A token that breaks one of
these, though signed with our key, gets 401 invalid_token in the project's error body, never a
200 for want of a session check, nor a 500 from the database."""

from datetime import timedelta

import pytest

from app.core.clock import utcnow
from tests.helpers import bearer, forge_access_token

INVALID_TOKEN = {"detail": "The access token is invalid.", "code": "invalid_token"}


def _assert_invalid_token(response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == INVALID_TOKEN
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.fixture
async def user(make_user):
    return await make_user()


@pytest.fixture
async def session_id(make_session, user):
    """A live session of `user`: each test below changes one claim of a token of it."""
    return await make_session(user)


async def _me(client, app, user_id: int, session_id, **changes):
    token = forge_access_token(app, user_id, session_id=session_id, **changes)
    return await client.get("/users/me", headers=bearer(token))


async def test_a_token_of_a_live_session_that_lives_the_access_lifetime_is_accepted(
    client, app, user, session_id
):
    # The control: the tests below change one thing of this token.
    now = utcnow()
    lifetime = timedelta(minutes=app.state.settings.access_token_minutes)

    response = await _me(client, app, user.id, session_id, iat=now, exp=now + lifetime)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_a_token_without_a_session_gives_401(client, app, user, session_id):
    response = await _me(client, app, user.id, session_id, drop=("sid",))

    _assert_invalid_token(response)


@pytest.mark.parametrize(
    "sid",
    [5, None, True, ["a-list"], {"an": "object"}, "", "not-a-uuid", "12345"],
    ids=["number", "null", "boolean", "list", "object", "empty", "word", "digits"],
)
async def test_a_token_whose_session_is_not_a_uuid_string_gives_401(
    client, app, user, session_id, sid
):
    response = await _me(client, app, user.id, session_id, sid=sid)

    _assert_invalid_token(response)


async def test_a_token_whose_session_is_a_uuid_in_another_spelling_gives_401(
    client, app, user, session_id
):
    # The service writes the canonical form; any other was not written by it.
    for spelling in (session_id.hex, str(session_id).upper(), f"urn:uuid:{session_id}"):
        response = await _me(client, app, user.id, session_id, sid=spelling)

        _assert_invalid_token(response)


async def test_a_token_of_another_users_session_gives_401(client, app, make_user, user, session_id):
    # Checked by the query that loads the caller, not by the claims: hence its own detail.
    other = await make_user()

    response = await _me(client, app, other.id, session_id)

    assert response.status_code == 401, response.text
    assert response.json() == {
        "detail": "The access token is no longer valid.",
        "code": "invalid_token",
    }


async def test_a_token_that_lives_longer_than_the_access_lifetime_gives_401(
    client, app, user, session_id
):
    # Not expired yet, but issued for longer than the service issues: a minted token.
    issued_at = utcnow() - timedelta(minutes=1)
    lifetime = timedelta(minutes=app.state.settings.access_token_minutes)

    response = await _me(
        client,
        app,
        user.id,
        session_id,
        iat=issued_at,
        exp=issued_at + lifetime + timedelta(seconds=1),
    )

    _assert_invalid_token(response)


@pytest.mark.parametrize("claim", ["iat", "exp"])
async def test_a_token_whose_times_are_numeric_strings_gives_401(
    client, app, user, session_id, claim
):
    # PyJWT reads "1767225600" as a time; the service writes numbers.
    now = utcnow()
    times = {"iat": now, "exp": now + timedelta(minutes=1)}

    response = await _me(
        client,
        app,
        user.id,
        session_id,
        **{claim: str(int(times[claim].timestamp()))},
    )

    _assert_invalid_token(response)


@pytest.mark.parametrize(
    "sub",
    ["0", "-1", "99999999999", "2147483648"],
    ids=["zero", "negative", "eleven-digits", "past-int32"],
)
async def test_a_token_whose_subject_is_outside_the_user_id_range_gives_401(
    client, app, user, session_id, sub
):
    # users.id is a 32-bit INTEGER on PostgreSQL: a larger number must not reach the query.
    response = await _me(client, app, user.id, session_id, sub=sub)

    _assert_invalid_token(response)


async def test_a_token_whose_subject_is_not_written_as_the_service_writes_it_gives_401(
    client, app, user, session_id
):
    for sub in (f"0{user.id}", f"+{user.id}", f" {user.id}", f"{user.id}\n", user.id):
        response = await _me(client, app, user.id, session_id, sub=sub)

        _assert_invalid_token(response)
