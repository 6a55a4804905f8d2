"""The cookie transport of the refresh token for browser clients (X-Client: browser)."""

import httpx
import pytest

from tests.helpers import PASSWORD

BROWSER = {"X-Client": "browser"}


@pytest.fixture
async def browser_client(app, seed_rows):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    # https, so that the Secure cookies are sent back as a browser would.
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


async def _browser_login(client, email):
    return await client.post(
        "/auth/login", data={"username": email, "password": PASSWORD}, headers=BROWSER
    )


def _csrf(client) -> dict[str, str]:
    return {**BROWSER, "X-CSRF-Token": client.cookies.get("csrf_token", "")}


async def test_browser_login_leaves_the_refresh_token_out_of_the_body(browser_client, make_user):
    user = await make_user()
    response = await _browser_login(browser_client, user.email)
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert response.json()["access_token"]


async def test_browser_login_sets_an_httponly_strict_refresh_cookie_on_auth(
    browser_client, make_user
):
    user = await make_user()
    response = await _browser_login(browser_client, user.email)
    cookies = response.headers.get_list("set-cookie")
    refresh = next(cookie for cookie in cookies if cookie.startswith("refresh_token="))
    assert "HttpOnly" in refresh
    assert "SameSite=strict" in refresh
    assert "Path=/auth" in refresh
    assert "Secure" in refresh
    assert "Max-Age=" in refresh
    csrf = next(cookie for cookie in cookies if cookie.startswith("csrf_token="))
    assert "HttpOnly" not in csrf


async def test_api_clients_still_get_the_refresh_token_in_json(client, make_user):
    user = await make_user()
    response = await client.post("/auth/login", data={"username": user.email, "password": PASSWORD})
    assert response.json()["refresh_token"]
    assert "set-cookie" not in response.headers


async def test_browser_refresh_with_the_csrf_header_rotates_the_cookie(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    old_cookie = browser_client.cookies.get("refresh_token")
    response = await browser_client.post("/auth/refresh", headers=_csrf(browser_client))
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    assert browser_client.cookies.get("refresh_token") != old_cookie


async def test_browser_refresh_without_the_csrf_header_is_refused(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    response = await browser_client.post("/auth/refresh", headers=BROWSER)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_browser_refresh_with_a_wrong_csrf_header_is_refused(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    response = await browser_client.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": "0" * 64}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_a_csrf_cookie_planted_by_an_attacker_does_not_pass(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    browser_client.cookies.set("csrf_token", "planted", domain="testserver", path="/")
    response = await browser_client.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": "planted"}
    )
    assert response.status_code == 403


async def test_browser_refresh_without_a_cookie_is_401(browser_client):
    response = await browser_client.post("/auth/refresh", headers=BROWSER)
    assert response.status_code == 401


async def test_browser_logout_revokes_the_session_and_clears_the_cookies(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    refresh_cookie = browser_client.cookies.get("refresh_token")
    response = await browser_client.post("/auth/logout", headers=_csrf(browser_client))
    assert response.status_code == 204
    assert browser_client.cookies.get("refresh_token") is None
    replay = await browser_client.post("/auth/refresh", json={"refresh_token": refresh_cookie})
    assert replay.status_code == 401


async def test_browser_logout_without_the_csrf_header_is_refused(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    response = await browser_client.post("/auth/logout", headers=BROWSER)
    assert response.status_code == 403
    assert browser_client.cookies.get("refresh_token") is not None


async def test_browser_logout_twice_is_harmless(browser_client, make_user):
    user = await make_user()
    await _browser_login(browser_client, user.email)
    assert (
        await browser_client.post("/auth/logout", headers=_csrf(browser_client))
    ).status_code == 204
    assert (await browser_client.post("/auth/logout", headers=BROWSER)).status_code == 204


async def test_logout_of_an_api_client_still_needs_the_token_in_the_body(client):
    response = await client.post("/auth/logout")
    assert response.status_code == 422
