"""Two-step verification in the console: turning it on with the QR code's key and a first code,
the recovery codes shown once, signing in with a code, and the dialog that asks for the
password again before a change that needs a recent sign-in."""

import asyncio
import time
from datetime import timedelta

import pyotp
from playwright.async_api import Page, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AuthSession
from app.core.clock import utcnow
from tests.browser.conftest import sign_in
from tests.conftest import MakeUser
from tests.helpers import PASSWORD

STEP = 30
QR_CODE = "QR code to scan with your authenticator app"


async def a_fresh_time_step() -> None:
    """Wait out the end of a step: the test's two codes must not straddle a step boundary."""
    if time.time() % STEP > STEP - 5:
        await asyncio.sleep(STEP - time.time() % STEP + 0.5)


async def turn_on(page: Page) -> str:
    """Turn two-step verification on from My account; the secret (the key under the QR code).
    The confirming code is the previous step's (within the allowed skew), so that the current
    step's code is still unused for the next sign-in."""
    await page.goto("/ui/#/me")
    await page.get_by_role("button", name="Turn on two-step verification").click()
    await expect(
        page.get_by_role("img", name="QR code to scan with your authenticator app")
    ).to_be_visible()
    secret = await page.get_by_test_id("mfa-secret").inner_text()
    await a_fresh_time_step()
    await page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).at(time.time() - STEP))
    await page.get_by_role("button", name="Turn on", exact=True).click()
    return secret


async def test_a_user_turns_on_two_step_verification_and_signs_in_with_a_code(
    page: Page, make_user: MakeUser
) -> None:
    user = await make_user()
    await sign_in(page, user.email)

    secret = await turn_on(page)

    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    await expect(codes).to_have_count(10)
    await page.get_by_role("button", name="I have saved them").click()
    await expect(page.get_by_test_id("mfa-status")).to_contain_text("On since")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    await page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Verify").click()
    await expect(page.locator("#account")).to_contain_text(user.email)


async def test_a_recovery_code_signs_in_once_in_the_console(
    page: Page, make_user: MakeUser
) -> None:
    user = await make_user()
    await sign_in(page, user.email)
    await turn_on(page)
    first_code = (
        await page.get_by_test_id("recovery-codes").get_by_role("listitem").first.inner_text()
    )
    await page.get_by_role("button", name="I have saved them").click()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.get_by_role("button", name="Use a recovery code instead").click()
    await page.get_by_label("Recovery code").fill(first_code)
    await page.get_by_role("button", name="Verify").click()

    await expect(page.locator("#account")).to_contain_text(user.email)
    await page.goto("/ui/#/me")
    await expect(page.get_by_test_id("mfa")).to_contain_text("9 of 10 recovery codes left")


async def test_an_old_sign_in_is_asked_for_the_password_before_the_change(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    user = await make_user()
    await sign_in(page, user.email)
    # The sign-in took place ten minutes ago: the session says so, and the next access token.
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id)
        .values(auth_time=utcnow() - timedelta(minutes=10))
    )
    await session.commit()
    await page.reload()
    await expect(page.locator("#account")).to_contain_text(user.email)
    await page.goto("/ui/#/me")

    await page.get_by_role("button", name="Turn on two-step verification").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("This change needs a recent sign-in")
    await dialog.get_by_label("Password").fill("not the password")
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("password is not correct")
    await dialog.get_by_label("Password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Confirm").click()

    await expect(
        page.get_by_role("img", name="QR code to scan with your authenticator app")
    ).to_be_visible()
    await expect(dialog).to_have_count(0)
