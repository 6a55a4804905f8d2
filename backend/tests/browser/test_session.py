"""The browser session: the access token in memory, the refresh cookie behind a CSRF check."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.async_api import Page, Request, Response, Route, expect

from tests.browser.conftest import NewContext, sign_in
from tests.conftest import MakeUser, StartServer
from tests.servers import free_port


def is_refresh(response: Response) -> bool:
    return response.url.endswith("/auth/refresh") and response.request.method == "POST"


async def test_a_reload_keeps_the_user_signed_in(page: Page, make_user: MakeUser) -> None:
    user = await make_user()
    await sign_in(page, user.email)

    async with page.expect_response(is_refresh) as refreshed:
        await page.reload()

    assert (await refreshed.value).status == 200
    await expect(page.locator("#account")).to_contain_text(user.email)
    await expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()


async def script_readable(page: Page) -> str:
    """Everything a script of the page could find lying around."""
    text: str = await page.evaluate(
        "JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])"
    )
    return text


async def test_no_token_is_readable_by_scripts(page: Page, make_user: MakeUser) -> None:
    user = await make_user()
    async with page.expect_response("**/auth/login") as login:
        await sign_in(page, user.email)
    body = await (await login.value).json()
    assert "refresh_token" not in body
    assert body["access_token"] not in await script_readable(page)

    async with page.expect_response(is_refresh) as refreshed:
        await page.reload()
    await expect(page.locator("#account")).to_contain_text(user.email)

    readable = await script_readable(page)
    assert (await (await refreshed.value).json())["access_token"] not in readable
    assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
    names = await page.evaluate("document.cookie.split('; ').map(c => c.split('=')[0])")
    assert names == ["csrf_token"]
    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    assert cookies["refresh_token"]["value"] not in readable
    assert cookies["refresh_token"]["httpOnly"] is True
    assert cookies["refresh_token"]["sameSite"] == "Strict"
    assert cookies["refresh_token"]["path"] == "/auth"
    assert cookies["csrf_token"]["sameSite"] == "Strict"


async def test_the_token_is_renewed_before_it_expires(page: Page, make_user: MakeUser) -> None:
    user = await make_user()
    await page.clock.install()
    await sign_in(page, user.email)

    async with page.expect_response(is_refresh) as refreshed:
        await page.clock.fast_forward("14:30")  # the token lives 15 minutes

    assert (await refreshed.value).status == 200
    await page.get_by_role("link", name="My account").click()
    await expect(page.get_by_test_id("me-email")).to_have_text(user.email)


async def test_a_401_is_followed_by_one_refresh_and_a_retry(
    page: Page, make_user: MakeUser
) -> None:
    user = await make_user()
    await sign_in(page, user.email)
    expired = {"detail": "The access token has expired.", "code": "token_expired"}
    refused: list[str] = []

    async def expire_once(route: Route) -> None:
        if not refused:
            refused.append(route.request.url)
            await route.fulfill(status=401, json=expired)
        else:
            await route.continue_()

    await page.route("**/users/me", expire_once)
    async with page.expect_response(is_refresh) as refreshed:
        await page.get_by_role("link", name="My account").click()

    assert (await refreshed.value).status == 200
    await expect(page.get_by_test_id("me-email")).to_have_text(user.email)
    assert len(refused) == 1


async def test_sign_out_clears_the_session(page: Page, make_user: MakeUser) -> None:
    user = await make_user()
    await sign_in(page, user.email)

    await page.get_by_role("button", name="Sign out").click()

    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert [cookie["name"] for cookie in await page.context.cookies()] == []
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_sign_out_everywhere_ends_the_other_browser(
    new_context: NewContext, make_user: MakeUser
) -> None:
    user = await make_user()
    here = await (await new_context()).new_page()
    elsewhere = await (await new_context()).new_page()
    await sign_in(elsewhere, user.email)
    await sign_in(here, user.email)

    await here.get_by_role("link", name="My sessions").click()
    await expect(here.get_by_role("region", name="My sessions").locator("tbody tr")).to_have_count(
        2
    )
    await here.get_by_role("button", name="Sign out everywhere").click()
    await expect(here.get_by_role("heading", name="Sign in")).to_be_visible()

    async with elsewhere.expect_response(is_refresh) as refreshed:
        await elsewhere.get_by_role("link", name="My account").click()
    assert (await refreshed.value).status == 401
    await expect(elsewhere.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(elsewhere.get_by_role("status")).to_have_text(
        "Your session has ended. Sign in again."
    )


async def test_signing_out_one_session_leaves_the_others(
    new_context: NewContext, make_user: MakeUser
) -> None:
    user = await make_user()
    here = await (await new_context()).new_page()
    elsewhere = await (await new_context()).new_page()
    await sign_in(elsewhere, user.email)
    await sign_in(here, user.email)

    await here.get_by_role("link", name="My sessions").click()
    rows = here.get_by_role("region", name="My sessions").locator("tbody tr")
    await expect(rows).to_have_count(2)
    other = rows.filter(has_not_text="this session")
    await other.get_by_role("button").click()
    await expect(here.get_by_role("status")).to_have_text("Session signed out.")
    await expect(rows).to_have_count(1)

    await elsewhere.reload()
    await expect(elsewhere.get_by_role("heading", name="Sign in")).to_be_visible()


ATTACK_PAGE = """<!doctype html>
<title>Win a prize</title>
<form id="forged" method="post" action="{target}/auth/refresh">
  <input name="grant_type" value="refresh_token">
</form>
<script>
  function cookie(name) {{
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? found.slice(name.length + 1) : "";
  }}
  window.outcome = (async () => {{
    const result = {{ csrfCookieSeen: cookie("csrf_token") !== "" }};
    try {{
      // With the CSRF header: needs a CORS preflight, which the API does not grant.
      const response = await fetch("{target}/auth/refresh", {{
        method: "POST", credentials: "include",
        headers: {{ "X-Client": "browser", "X-CSRF-Token": cookie("csrf_token") }},
      }});
      result.withHeader = response.status;
    }} catch (error) {{
      result.withHeader = "blocked";
    }}
    // A "simple" request goes out without a preflight, but without the header either.
    await fetch("{target}/auth/refresh", {{
      method: "POST", credentials: "include", mode: "no-cors",
    }});
    return result;
  }})();
</script>
"""


@pytest.fixture
def attacker(server: str) -> Iterator[dict[str, Any]]:
    """A page of another origin (another port), trying to refresh the victim's session."""
    page = ATTACK_PAGE.format(target=server).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"port": httpd.server_address[1]}
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "host",
    [
        # Same site (cookies ignore ports): the page can even read csrf_token, and the cookie
        # goes along with its requests; but it cannot send the headers without CORS.
        "127.0.0.1",
        # Another site: SameSite=Strict keeps the cookies home as well.
        "localhost",
    ],
)
async def test_a_refresh_from_another_origin_is_refused(
    page: Page, make_user: MakeUser, attacker: dict[str, Any], host: str
) -> None:
    user = await make_user()
    await sign_in(page, user.email)
    evil = await page.context.new_page()
    refreshes: list[Response] = []
    evil.on(
        "response", lambda response: refreshes.append(response) if is_refresh(response) else None
    )

    async with evil.expect_response(is_refresh) as simple:
        await evil.goto(f"http://{host}:{attacker['port']}/")
        outcome = await evil.evaluate("window.outcome")

    assert outcome["withHeader"] == "blocked"
    assert outcome["csrfCookieSeen"] is (host == "127.0.0.1")
    refused = await simple.value
    # Without X-Client: browser the API reads no cookie, and the body holds no refresh token.
    # (The page could not have read even that: an opaque response.)
    assert refused.status == 422
    assert await refused.header_value("set-cookie") is None  # nothing rotated
    assert len(refreshes) == 1  # the request with the headers never left the browser
    async with evil.expect_navigation() as forged:
        await evil.evaluate("document.getElementById('forged').submit()")
    response = await forged.value
    assert response is not None
    assert response.status == 422  # a form, not the browser transport: no refresh token in it
    assert json.loads(await response.text())["code"] == "validation_error"
    assert "access_token" not in await response.text()
    # The victim's session is intact.
    await page.reload()
    await expect(page.locator("#account")).to_contain_text(user.email)


async def test_with_secure_cookies_the_console_keeps_its_session_across_a_reload(
    new_context: NewContext, make_user: MakeUser, serve: StartServer
) -> None:
    """COOKIE_SECURE=true (the default): the cookies carry the __Secure- and __Host- prefixes,
    and the console finds its CSRF cookie under the prefixed name. Chromium counts
    http://127.0.0.1 as a secure context, so it keeps Secure cookies there as over https."""
    user = await make_user()
    server = await serve(COOKIE_SECURE="true", CORS_ORIGINS="", LOG_LEVEL="WARNING")
    page = await (await new_context(base_url=server.url)).new_page()
    await sign_in(page, user.email)
    names = {cookie["name"] for cookie in await page.context.cookies()}
    assert names == {"__Secure-refresh_token", "__Host-csrf_token"}

    async with page.expect_response(is_refresh) as refreshed:
        await page.reload()

    assert (await refreshed.value).status == 200
    await expect(page.locator("#account")).to_contain_text(user.email)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert await page.context.cookies() == []


def is_refresh_request(request: Request) -> bool:
    return request.url.endswith("/auth/refresh") and request.method == "POST"


async def test_a_refused_refresh_is_read_to_its_end(page: Page) -> None:
    """The console reads the body of a refresh it was refused (here: no session yet), so the
    request finishes, rather than hold its connection open until the page goes away."""
    async with page.expect_event("requestfinished", is_refresh_request, timeout=10_000) as finished:
        await page.goto("/ui/")

    response = await (await finished.value).response()
    assert response is not None
    assert response.status == 401
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
