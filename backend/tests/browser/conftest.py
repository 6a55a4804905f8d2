"""Fixtures of the browser tests: the app served by a real uvicorn process on the test
database, mailing through a real SMTP server (aiosmtpd, in this process), Debian's Chromium
driven by Playwright, and a fresh browser context per test."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.helpers import PASSWORD, login
from tests.mail.conftest import Inbox
from tests.servers import free_port, poll_until, server_env, start_server

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
def smtp() -> Iterator[tuple[Inbox, int]]:
    """The SMTP server the app of the browser tests mails through, plain (no TLS) on 127.0.0.1:
    its inbox and port. The `mail` fixture reads it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="session")
async def server(
    database_url: str, smtp: tuple[Inbox, int], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The app in a uvicorn process of its own, on the test database; its base URL."""
    if not CHROMIUM_INSTALLED:
        pytest.skip("Chromium is missing: apt-get install chromium (Debian's package)")
    _, smtp_port = smtp
    # Without PUBLIC_URL, the links in its mail name the address the server listens on: this
    # server, whatever port it was given.
    env = server_env(
        database_url,
        COOKIE_SECURE="false",  # plain http on 127.0.0.1
        CORS_ORIGINS="",
        LOG_LEVEL="WARNING",
        MAIL_URL=f"smtp://127.0.0.1:{smtp_port}?tls=off",
    )
    uvicorn = await start_server(env, tmp_path_factory.mktemp("uvicorn") / "server.log")
    try:
        yield uvicorn.url
    finally:
        await uvicorn.stop(within=10)


class Mail:
    """The mail the app sent during a test, as its SMTP server received it."""

    def __init__(self, inbox: Inbox, server: str) -> None:
        self.inbox = inbox
        self.server = server

    def links(self, to: str, page: str) -> list[str]:
        """The links to this console page (`reset-password`) in the mail received for `to`."""
        found = []
        for received in self.inbox.received:
            if to not in received.envelope_to:
                continue
            body = received.message.get_body(preferencelist=("plain",))
            assert body is not None
            pattern = rf"{re.escape(self.server)}/ui/#/{page}\?token=[A-Za-z0-9_\-]+"
            found += re.findall(pattern, body.get_content())
        return found

    async def link(self, to: str, page: str) -> str:
        """The one link to this page mailed to `to`, once it has arrived (mail leaves after the
        response)."""

        async def arrived() -> bool:
            return bool(self.links(to, page))

        await poll_until(arrived, 10, f"no mail to {to} with a link to #/{page}")
        (link,) = self.links(to, page)
        return link


@pytest.fixture
def mail(smtp: tuple[Inbox, int], server: str) -> Mail:
    """The mail of this test (an empty inbox at its start)."""
    inbox, _ = smtp
    inbox.received.clear()
    return Mail(inbox, server)


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
