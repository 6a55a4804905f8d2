"""The console's tokens page: create a personal access token (shown once), use it from a
script, see it listed without its secret, and revoke it."""

import re

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in
from tests.conftest import MakeUser
from tests.helpers import bearer


async def test_a_token_is_created_shown_once_listed_and_revoked(
    page: Page, make_user: MakeUser, server: str
) -> None:
    user = await make_user(roles=["editor"])
    await sign_in(page, user.email)
    await page.get_by_role("link", name="My tokens").click()
    await expect(page.get_by_role("heading", name="My tokens")).to_be_visible()

    await page.get_by_label("Name").fill("deploy script")
    await page.get_by_role("checkbox", name="read_article").check()
    await page.get_by_role("button", name="Create token").click()
    shown = page.get_by_label("The new token")
    await expect(shown).to_have_value(re.compile(r"^pya_pat_"))
    token = await shown.input_value()
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        me = await http.get("/users/me", headers=bearer(token))
    assert me.json()["permissions"] == ["read_article"]

    await page.get_by_role("button", name="I have copied it").click()
    listing = page.get_by_role("region", name="My tokens")
    await expect(listing.locator("tbody tr")).to_have_count(1)
    await expect(listing).to_contain_text("deploy script")
    await expect(listing).not_to_contain_text(token)

    await page.get_by_role("button", name="Revoke the token deploy script").click()
    await expect(page.get_by_role("status")).to_have_text("Token revoked.")
    await expect(page.get_by_text("No token yet.")).to_be_visible()
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        assert (await http.get("/users/me", headers=bearer(token))).status_code == 401
