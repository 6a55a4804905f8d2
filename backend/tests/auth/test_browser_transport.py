"""The cookie transport of the refresh token for browser clients (X-Client: browser)."""

from dataclasses import dataclass

import httpx
import pytest

from tests.helpers import attempt_login, fresh_app

BROWSER = {"X-Client": "browser"}
# With COOKIE_SECURE (the default) the names carry the browsers' prefixes: a __Secure- cookie
# needs the Secure flag, and a __Host- one also Path=/ and no Domain (no sibling can set it).
REFRESH = "__Secure-refresh_token"
CSRF = "__Host-csrf_token"


@pytest.fixture
async def browser_client(app, clean_database):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    # https, so that the Secure cookies are sent back as a browser would.
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


@dataclass
class Transport:
    http: httpx.AsyncClient
    refresh: str  # the names of the cookies
    csrf: str


@pytest.fixture(params=["https", "http"])
async def transport(request, database_url, browser_client):
    """The cookie transport over https (COOKIE_SECURE=true, prefixed names) and over plain
    http (COOKIE_SECURE=false, as `make run` serves it: plain names)."""
    if request.param == "https":
        yield Transport(browser_client, REFRESH, CSRF)
        return
    async with fresh_app(database_url, cookie_secure=False) as application:
        client = httpx.ASGITransport(app=application, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=client, base_url="http://testserver") as http:
            yield Transport(http, "refresh_token", "csrf_token")


def _csrf(client) -> dict[str, str]:
    return {**BROWSER, "X-CSRF-Token": client.cookies.get(CSRF, "")}


async def _session_cookies(http, email) -> dict[str, str]:
    """The cookies of a browser login, taken out of the client's jar."""
    response = await attempt_login(http, email, headers=BROWSER)
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return dict(response.cookies)


async def test_browser_login_leaves_the_refresh_token_out_of_the_body(browser_client, make_user):
    user = await make_user()
    response = await attempt_login(browser_client, user.email, headers=BROWSER)
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert response.json()["access_token"]


async def test_browser_login_sets_an_httponly_strict_refresh_cookie_on_auth(
    browser_client, make_user
):
    user = await make_user()
    response = await attempt_login(browser_client, user.email, headers=BROWSER)
    cookies = response.headers.get_list("set-cookie")
    refresh = next(cookie for cookie in cookies if cookie.startswith(f"{REFRESH}="))
    assert "HttpOnly" in refresh
    assert "SameSite=strict" in refresh
    assert "Path=/auth" in refresh
    assert "Secure" in refresh
    assert "Max-Age=" in refresh
    csrf = next(cookie for cookie in cookies if cookie.startswith(f"{CSRF}="))
    assert "HttpOnly" not in csrf


async def test_the_csrf_cookie_meets_the_host_prefixs_rules(browser_client, make_user):
    user = await make_user()
    response = await attempt_login(browser_client, user.email, headers=BROWSER)
    cookies = response.headers.get_list("set-cookie")
    (csrf,) = [cookie for cookie in cookies if cookie.startswith(f"{CSRF}=")]
    attributes = [attribute.strip().lower() for attribute in csrf.split(";")[1:]]
    assert "secure" in attributes
    assert "path=/" in attributes
    assert not any(attribute.startswith("domain=") for attribute in attributes)


async def test_over_plain_http_the_cookies_keep_their_plain_names(transport, make_user):
    user = await make_user()
    response = await attempt_login(transport.http, user.email, headers=BROWSER)
    names = {cookie.split("=", 1)[0] for cookie in response.headers.get_list("set-cookie")}
    assert names == {transport.refresh, transport.csrf}


async def test_api_clients_still_get_the_refresh_token_in_json(client, make_user):
    user = await make_user()
    response = await attempt_login(client, user.email)
    assert response.json()["refresh_token"]
    assert "set-cookie" not in response.headers


async def test_browser_refresh_with_the_csrf_header_rotates_the_cookie(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    old_cookie = browser_client.cookies.get(REFRESH)
    response = await browser_client.post("/auth/refresh", headers=_csrf(browser_client))
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    assert browser_client.cookies.get(REFRESH) != old_cookie


async def test_browser_refresh_without_the_csrf_header_is_refused(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    response = await browser_client.post("/auth/refresh", headers=BROWSER)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_browser_refresh_with_a_wrong_csrf_header_is_refused(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    response = await browser_client.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": "0" * 64}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_a_csrf_cookie_planted_by_an_attacker_does_not_pass(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    browser_client.cookies.set(CSRF, "planted", domain="testserver", path="/")
    response = await browser_client.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": "planted"}
    )
    assert response.status_code == 403


async def test_browser_refresh_without_a_cookie_is_401(browser_client):
    response = await browser_client.post("/auth/refresh", headers=BROWSER)
    assert response.status_code == 401


async def test_browser_logout_revokes_the_session_and_clears_the_cookies(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    refresh_cookie = browser_client.cookies.get(REFRESH)
    response = await browser_client.post("/auth/logout", headers=_csrf(browser_client))
    assert response.status_code == 204
    assert browser_client.cookies.get(REFRESH) is None
    assert browser_client.cookies.get(CSRF) is None
    replay = await browser_client.post("/auth/refresh", json={"refresh_token": refresh_cookie})
    assert replay.status_code == 401


async def test_browser_logout_without_the_csrf_header_is_refused(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    response = await browser_client.post("/auth/logout", headers=BROWSER)
    assert response.status_code == 403
    assert browser_client.cookies.get(REFRESH) is not None


async def test_browser_logout_twice_is_harmless(browser_client, make_user):
    user = await make_user()
    await attempt_login(browser_client, user.email, headers=BROWSER)
    assert (
        await browser_client.post("/auth/logout", headers=_csrf(browser_client))
    ).status_code == 204
    assert (await browser_client.post("/auth/logout", headers=BROWSER)).status_code == 204


async def test_logout_of_an_api_client_still_needs_the_token_in_the_body(client):
    response = await client.post("/auth/logout")
    assert response.status_code == 422


# --- Cookie tossing: a sibling subdomain adds cookies of our names beside ours ----------------


def _assert_refused_as_repeated(response, name: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["code"] == "csrf_failed"
    assert name in body["detail"]


async def test_a_refresh_with_the_refresh_cookie_twice_is_refused(transport, make_user):
    """Whichever copy a parser keeps (Starlette: the last) is the attacker's choice: here the
    attacker's own session, which would sign the victim's console in to the attacker's
    account."""
    victim = await _session_cookies(transport.http, (await make_user()).email)
    attacker = await _session_cookies(transport.http, (await make_user()).email)
    refresh, csrf = transport.refresh, transport.csrf
    cookie = f"{refresh}={victim[refresh]}; {csrf}={victim[csrf]}; {refresh}={attacker[refresh]}"

    response = await transport.http.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": attacker[csrf], "Cookie": cookie}
    )

    _assert_refused_as_repeated(response, refresh)


async def test_a_refresh_with_the_csrf_cookie_twice_is_refused(transport, make_user):
    user = await make_user()
    own = await _session_cookies(transport.http, user.email)
    refresh, csrf = transport.refresh, transport.csrf
    cookie = f"{csrf}=planted; {refresh}={own[refresh]}; {csrf}={own[csrf]}"

    response = await transport.http.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": own[csrf], "Cookie": cookie}
    )

    _assert_refused_as_repeated(response, csrf)


async def test_a_logout_with_the_refresh_cookie_twice_is_refused(transport, make_user):
    victim = await _session_cookies(transport.http, (await make_user()).email)
    attacker = await _session_cookies(transport.http, (await make_user()).email)
    refresh, csrf = transport.refresh, transport.csrf
    cookie = f"{refresh}={victim[refresh]}; {refresh}={attacker[refresh]}"

    response = await transport.http.post(
        "/auth/logout", headers={**BROWSER, "X-CSRF-Token": attacker[csrf], "Cookie": cookie}
    )

    _assert_refused_as_repeated(response, refresh)


async def test_the_cookies_repeated_in_two_cookie_headers_are_refused(transport, make_user):
    """HTTP/2 clients may send each cookie in a Cookie header of its own."""
    victim = await _session_cookies(transport.http, (await make_user()).email)
    attacker = await _session_cookies(transport.http, (await make_user()).email)
    refresh, csrf = transport.refresh, transport.csrf
    headers = [
        ("X-Client", "browser"),
        ("X-CSRF-Token", attacker[csrf]),
        ("Cookie", f"{refresh}={victim[refresh]}"),
        ("Cookie", f"{refresh}={attacker[refresh]}"),
    ]

    response = await transport.http.post("/auth/refresh", headers=headers)

    _assert_refused_as_repeated(response, refresh)


async def test_another_cookie_sent_twice_is_not_ours_to_refuse(transport, make_user):
    own = await _session_cookies(transport.http, (await make_user()).email)
    refresh, csrf = transport.refresh, transport.csrf
    cookie = f"theme=dark; {refresh}={own[refresh]}; theme=light"

    response = await transport.http.post(
        "/auth/refresh", headers={**BROWSER, "X-CSRF-Token": own[csrf], "Cookie": cookie}
    )

    assert response.status_code == 200, response.text
