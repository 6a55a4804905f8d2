"""Fixtures of the browser tests: the app served by a real uvicorn process on the test
database, Debian's Chromium driven by Playwright, and a fresh browser context per test."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.helpers import PASSWORD, login
from tests.servers import server_env, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALLED = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright waits this long for what a test expects to appear; pages answer in milliseconds.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
async def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The app in a uvicorn process of its own, on the test database; its base URL."""
    if not CHROMIUM_INSTALLED:
        pytest.skip("Chromium is missing: apt-get install chromium (Debian's package)")
    env = server_env(
        database_url,
        COOKIE_SECURE="false",  # plain http on 127.0.0.1
        CORS_ORIGINS="",
        LOG_LEVEL="WARNING",
    )
    uvicorn = await start_server(env, tmp_path_factory.mktemp("uvicorn") / "server.log")
    try:
        yield uvicorn.url
    finally:
        await uvicorn.stop(within=10)


@pytest.fixture(scope="session")
async def browser(server: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def new_context(
    browser: Browser, server: str, clean_database: None
) -> AsyncIterator[NewContext]:
    """`await new_context()`: a fresh browser profile (its own cookies), closed after the test
    and before the database is emptied. Confirmation dialogs are accepted."""
    contexts: list[BrowserContext] = []

    async def factory(**options: Any) -> BrowserContext:
        settings = {
            "base_url": server,
            "locale": "en-GB",
            "timezone_id": "UTC",
            "viewport": {"width": 1200, "height": 800},
            **options,
        }
        context = await browser.new_context(**settings)
        context.on("dialog", lambda dialog: dialog.accept())
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        await context.close()


@pytest.fixture
async def page(new_context: NewContext) -> Page:
    context = await new_context()
    return await context.new_page()


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would, and wait for the signed-in console."""
    await page.goto("/ui/#/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#account")).to_contain_text(email)


async def api_token(server: str, email: str) -> str:
    """An access token for calling the running server directly, as an API client."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        tokens = await login(http, email)
    token: str = tokens["access_token"]
    return token
