"""Fixtures of the browser tests: the app served by a real uvicorn process on the test
database, Debian's Chromium driven by Playwright, and a fresh browser context per test."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.helpers import BACKEND_DIR, PASSWORD, TEST_SECRET

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 30
# Playwright waits this long for what a test expects to appear; pages answer in milliseconds.
expect.set_options(timeout=10_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"uvicorn did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app in a uvicorn process of its own, on the test database; its base URL."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install chromium (Debian's package)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        "AUTH_RATE_LIMIT": "",
        "COOKIE_SECURE": "false",  # plain http on 127.0.0.1
        "CORS_ORIGINS": "",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own venv's uvicorn, fixed arguments)
            [
                str(Path(sys.executable).with_name("uvicorn")),
                "--factory",
                "app.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=BACKEND_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    browser: Browser, server: str, seed_rows: Any, app: Any
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
        response = await http.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
