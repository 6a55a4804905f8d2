"""authlib's client credentials client, configured with nothing but our token endpoint and
the account's credentials, against py-auth served over HTTP: client_secret_basic (authlib's
default) and client_secret_post."""

import warnings
from collections.abc import Iterator

import pytest
from authlib.deprecate import AuthlibDeprecationWarning

from app.main import create_app
from tests.helpers import make_settings
from tests.servers import serve_in_thread

with warnings.catch_warnings():
    # authlib prefers httpx2 and warns when it falls back to httpx, which the suite uses.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

TIMEOUT_SECONDS = 30


@pytest.fixture
def live_server(database_url, clean_database) -> Iterator[str]:
    with serve_in_thread(create_app(make_settings(database_url)), within=TIMEOUT_SECONDS) as url:
        yield url


def _client(live_server: str, account, method: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=account.client_id,
        client_secret=account.client_secret,
        token_endpoint_auth_method=method,
        grant_type="client_credentials",
        token_endpoint=f"{live_server}/auth/login",
        base_url=live_server,
        timeout=TIMEOUT_SECONDS,
        trust_env=False,  # no proxy between the client and 127.0.0.1
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_client_credentials_client_calls_the_api(
    live_server, make_service_account, method
):
    account = await make_service_account(roles=["viewer"])

    async with _client(live_server, account, method) as oauth:
        token = await oauth.fetch_token()
        response = await oauth.get("/users/me")

    assert token["token_type"] == "bearer"
    assert "refresh_token" not in token
    assert response.status_code == 200, response.text
    assert response.json()["id"] == account.user_id


async def test_authlib_client_raises_invalid_client_for_a_wrong_secret(
    live_server, make_service_account
):
    account = await make_service_account()
    wrong = type(account)(account.user_id, account.client_id, account.client_secret + "x")

    async with _client(live_server, wrong, "client_secret_basic") as oauth:
        with pytest.raises(OAuthError) as refused:
            await oauth.fetch_token()

    assert refused.value.error == "invalid_client"
