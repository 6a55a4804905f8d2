"""OAuth2 client libraries, configured with nothing but our URLs, end to end: authlib (its httpx
client in-process, its requests OAuth2Session over HTTP) and requests-oauthlib (over HTTP).

Expiry runs on one controlled clock shared by our token codec and the client library. It
starts in the past, so that once a test advances it to the present, PyJWT (which reads the
real clock) agrees with the client that the first access token has expired.
"""

import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import requests_oauthlib
from authlib.deprecate import AuthlibDeprecationWarning
from oauthlib.oauth2 import InvalidGrantError, LegacyApplicationClient

from app.main import create_app
from tests.helpers import PASSWORD, Clock, bearer, freeze_clock, make_settings
from tests.servers import serve_in_thread

with warnings.catch_warnings():
    # authlib prefers httpx2 and warns when it falls back to httpx, which the suite uses.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.integrations.requests_client import OAuth2Session

BASE_URL = "http://testserver"
CLIENT_ID = "py-auth-tests"
# Bounds a wait on the live server, so that a broken server fails a test instead of hanging it.
TIMEOUT_SECONDS = 30


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    """The app's clock, which the client libraries' expiry checks read too. It starts more than
    an access token's lifetime (and authlib's minute of leeway) ago."""
    clock = freeze_clock(monkeypatch, behind=timedelta(minutes=settings.access_token_minutes + 5))
    fake_time = SimpleNamespace(time=clock.time)
    for module in (
        "authlib.oauth2.rfc6749.wrappers",  # OAuth2Token.expires_at and is_expired
        "oauthlib.oauth2.rfc6749.parameters",  # the token's expires_at
        "oauthlib.oauth2.rfc6749.clients.base",  # the client's expiry check
    ):
        monkeypatch.setattr(f"{module}.time", fake_time)
    return clock


# --- authlib's httpx client, in-process ---------------------------------------------------------


@pytest.fixture
async def authlib_client(app, clean_database) -> AsyncIterator[AsyncOAuth2Client]:
    async with AsyncOAuth2Client(
        client_id=CLIENT_ID,
        token_endpoint_auth_method="none",  # a public client: no client secret
        revocation_endpoint_auth_method="none",
        token_endpoint=f"{BASE_URL}/auth/refresh",  # where the client refreshes by itself
        base_url=BASE_URL,
        transport=httpx.ASGITransport(app=app),
    ) as oauth:
        yield oauth


async def _authlib_login(oauth: AsyncOAuth2Client, email: str) -> dict[str, Any]:
    token = await oauth.fetch_token(f"{BASE_URL}/auth/login", username=email, password=PASSWORD)
    return dict(token)


async def test_authlib_client_logs_in_with_the_password_grant(authlib_client, make_user, settings):
    user = await make_user()

    token = await _authlib_login(authlib_client, user.email)

    assert token["token_type"] == "bearer"
    assert token["expires_in"] == settings.access_token_minutes * 60
    assert token["access_token"]
    assert token["refresh_token"]
    assert isinstance(token["expires_at"], int)


async def test_authlib_client_calls_the_api_with_its_access_token(authlib_client, make_user):
    user = await make_user()
    await _authlib_login(authlib_client, user.email)

    response = await authlib_client.get("/users/me")

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_authlib_client_refreshes_an_expired_access_token_by_itself(
    authlib_client, client, make_user, clock
):
    user = await make_user()
    first = await _authlib_login(authlib_client, user.email)
    clock.advance_to_the_present()
    expired = await client.get("/users/me", headers=bearer(first["access_token"]))
    assert expired.json()["code"] == "token_expired"

    response = await authlib_client.get("/users/me")

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id
    assert authlib_client.token["access_token"] != first["access_token"]
    assert authlib_client.token["refresh_token"] != first["refresh_token"]


async def test_authlib_client_revokes_its_refresh_token_at_logout(authlib_client, make_user):
    user = await make_user()
    token = await _authlib_login(authlib_client, user.email)

    response = await authlib_client.revoke_token(
        f"{BASE_URL}/auth/revoke", token=token["refresh_token"], token_type_hint="refresh_token"
    )

    assert response.status_code == 200, response.text
    with pytest.raises(OAuthError) as refused:
        await authlib_client.refresh_token(refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


async def test_authlib_client_raises_invalid_grant_for_a_wrong_password(authlib_client, make_user):
    user = await make_user()

    with pytest.raises(OAuthError) as refused:
        await authlib_client.fetch_token(
            f"{BASE_URL}/auth/login", username=user.email, password="wrong password!"
        )

    assert refused.value.error == "invalid_grant"
    assert refused.value.description == "Incorrect email or password."


async def test_authlib_client_sees_mfa_required_as_an_oauth_error(authlib_client, enroll):
    enrolled = await enroll()

    with pytest.raises(OAuthError) as refused:
        await _authlib_login(authlib_client, enrolled.user.email)

    assert refused.value.error == "mfa_required"
    assert refused.value.description.startswith("A second factor is required")


# --- Over HTTP: py-auth served by uvicorn, for the requests-based clients -----------------------


@pytest.fixture
def live_server(database_url, clean_database) -> Iterator[str]:
    """A second app on the test database, served over HTTP by this process (so that it reads
    the test's clock); its lifespan closes its pool when it stops."""
    with serve_in_thread(create_app(make_settings(database_url)), within=TIMEOUT_SECONDS) as url:
        yield url


# --- authlib's OAuth2Session (requests) ---------------------------------------------------------


@pytest.fixture
def authlib_session(live_server) -> Iterator[OAuth2Session]:
    session = OAuth2Session(
        client_id=CLIENT_ID,
        token_endpoint_auth_method="none",
        revocation_endpoint_auth_method="none",
        token_endpoint=f"{live_server}/auth/refresh",
        default_timeout=TIMEOUT_SECONDS,
    )
    session.trust_env = False  # no proxy between the client and 127.0.0.1
    with session:
        yield session


async def test_authlib_oauth2_session_calls_the_api_with_the_token_it_logged_in_for(
    authlib_session, live_server, make_user
):
    user = await make_user()
    authlib_session.fetch_token(f"{live_server}/auth/login", username=user.email, password=PASSWORD)

    response = authlib_session.get(f"{live_server}/users/me")

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_authlib_oauth2_session_refreshes_an_expired_access_token_by_itself(
    authlib_session, live_server, make_user, clock
):
    user = await make_user()
    first = dict(
        authlib_session.fetch_token(
            f"{live_server}/auth/login", username=user.email, password=PASSWORD
        )
    )
    clock.advance_to_the_present()

    response = authlib_session.get(f"{live_server}/users/me")

    assert response.status_code == 200, response.text
    assert authlib_session.token["access_token"] != first["access_token"]
    assert authlib_session.token["refresh_token"] != first["refresh_token"]


async def test_authlib_oauth2_session_revokes_its_refresh_token(
    authlib_session, live_server, make_user
):
    user = await make_user()
    token = authlib_session.fetch_token(
        f"{live_server}/auth/login", username=user.email, password=PASSWORD
    )

    response = authlib_session.revoke_token(
        f"{live_server}/auth/revoke", token=token["refresh_token"], token_type_hint="refresh_token"
    )

    assert response.status_code == 200, response.text
    with pytest.raises(OAuthError) as refused:
        authlib_session.refresh_token(refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


# --- requests-oauthlib --------------------------------------------------------------------------


@pytest.fixture
def oauthlib_session(live_server, monkeypatch) -> Iterator[requests_oauthlib.OAuth2Session]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP to the local server
    updated: list[dict[str, Any]] = []
    session = requests_oauthlib.OAuth2Session(
        client=LegacyApplicationClient(client_id=CLIENT_ID),
        auto_refresh_url=f"{live_server}/auth/refresh",
        token_updater=updated.append,
    )
    session.trust_env = False
    with session:
        yield session


def _oauthlib_login(session: requests_oauthlib.OAuth2Session, url: str, email: str) -> Any:
    return session.fetch_token(
        f"{url}/auth/login", username=email, password=PASSWORD, timeout=TIMEOUT_SECONDS
    )


async def test_requests_oauthlib_logs_in_with_the_password_grant(
    oauthlib_session, live_server, make_user
):
    user = await make_user()
    _oauthlib_login(oauthlib_session, live_server, user.email)

    response = oauthlib_session.get(f"{live_server}/users/me", timeout=TIMEOUT_SECONDS)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_requests_oauthlib_refreshes_with_the_refresh_grant(
    oauthlib_session, live_server, make_user
):
    user = await make_user()
    first = dict(_oauthlib_login(oauthlib_session, live_server, user.email))

    token = oauthlib_session.refresh_token(f"{live_server}/auth/refresh", timeout=TIMEOUT_SECONDS)

    assert token["access_token"] != first["access_token"]
    assert token["refresh_token"] != first["refresh_token"]
    response = oauthlib_session.get(f"{live_server}/users/me", timeout=TIMEOUT_SECONDS)
    assert response.json()["id"] == user.id


async def test_requests_oauthlib_refreshes_an_expired_access_token_by_itself(
    oauthlib_session, live_server, make_user, clock
):
    user = await make_user()
    first = dict(_oauthlib_login(oauthlib_session, live_server, user.email))
    clock.advance_to_the_present()

    response = oauthlib_session.get(f"{live_server}/users/me", timeout=TIMEOUT_SECONDS)

    assert response.status_code == 200, response.text
    assert oauthlib_session.token["access_token"] != first["access_token"]


async def test_requests_oauthlib_raises_invalid_grant_for_a_reused_refresh_token(
    oauthlib_session, live_server, make_user
):
    user = await make_user()
    first = dict(_oauthlib_login(oauthlib_session, live_server, user.email))
    oauthlib_session.refresh_token(f"{live_server}/auth/refresh", timeout=TIMEOUT_SECONDS)

    with pytest.raises(InvalidGrantError):
        oauthlib_session.refresh_token(
            f"{live_server}/auth/refresh",
            refresh_token=first["refresh_token"],
            timeout=TIMEOUT_SECONDS,
        )
