"""The console's flows that go through a mail, read from a real SMTP server: a forgotten password,
an invitation, a verification, an email change, and the pages their links open, which change
nothing until the person submits them (a mail scanner follows links too)."""

import httpx
from playwright.async_api import Page, Request, expect
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from tests.browser.conftest import Mail, NewContext, sign_in
from tests.conftest import MakeUser
from tests.helpers import PASSWORD

NEW_PASSWORD = "a brand new passphrase"


def is_reset(request: Request) -> bool:
    return request.url.endswith("/auth/reset-password")


async def ask_for_a_reset(server: str, email: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        answer = await http.post("/auth/forgot-password", json={"email": email})
    assert answer.status_code == 202


async def test_a_forgotten_password_is_reset_through_the_mailed_link(
    page: Page, make_user: MakeUser, mail: Mail
) -> None:
    user = await make_user()
    await page.goto("/ui/#/signin")
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_role("button", name="Send me a reset link").click()
    await expect(
        page.get_by_text("If the address can receive it, a mail is on its way.")
    ).to_be_visible()

    await page.goto(await mail.link(user.email, "reset-password"))
    await page.get_by_label("New password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set the new password").click()

    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text(
        "Your password is changed. Sign in with it."
    )
    await sign_in(page, user.email, NEW_PASSWORD)


async def test_opening_a_reset_link_leaves_its_token_usable(
    new_context: NewContext, make_user: MakeUser, mail: Mail, server: str
) -> None:
    user = await make_user()
    await ask_for_a_reset(server, user.email)
    link = await mail.link(user.email, "reset-password")
    scanner = await (await new_context()).new_page()
    posted: list[Request] = []
    scanner.on("request", lambda request: posted.append(request) if is_reset(request) else None)

    await scanner.goto(link)
    await expect(scanner.get_by_label("New password")).to_be_visible()
    await scanner.context.close()

    assert posted == []
    person = await (await new_context()).new_page()
    await person.goto(link)
    await person.get_by_label("New password").fill(NEW_PASSWORD)
    await person.get_by_role("button", name="Set the new password").click()
    await expect(person.get_by_role("status")).to_have_text(
        "Your password is changed. Sign in with it."
    )
    await sign_in(person, user.email, NEW_PASSWORD)


async def test_a_used_reset_link_shows_the_apis_refusal(
    page: Page, make_user: MakeUser, mail: Mail, server: str
) -> None:
    user = await make_user()
    await ask_for_a_reset(server, user.email)
    link = await mail.link(user.email, "reset-password")
    token = link.rpartition("token=")[2]
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        used = await http.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
    assert used.status_code == 204

    await page.goto(link)
    await page.get_by_label("New password").fill("yet another passphrase")
    await page.get_by_role("button", name="Set the new password").click()

    await expect(page.get_by_role("alert")).to_have_text(
        "The link is invalid or has expired; ask for a new one."
    )
    await expect(page.get_by_role("link", name="Ask for a new one")).to_be_visible()


async def test_an_invited_person_opens_their_account_with_the_invited_role(
    new_context: NewContext, make_user: MakeUser, mail: Mail
) -> None:
    admin = await make_user(roles=["admin"])
    admin_page = await (await new_context()).new_page()
    await sign_in(admin_page, admin.email)
    await (
        admin_page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    )
    invite = admin_page.get_by_role("form", name="Invite someone")
    await invite.get_by_label("Email of the person to invite").fill("newcomer@example.com")
    await invite.get_by_role("checkbox", name="editor").check()
    await invite.get_by_role("button", name="Send the invitation").click()
    await expect(admin_page.get_by_text("The invitation is on its way.")).to_be_visible()

    page = await (await new_context()).new_page()
    await page.goto(await mail.link("newcomer@example.com", "accept-invitation"))
    await page.get_by_label("Full name (optional)").fill("Nova Newcomer")
    await page.get_by_label("Password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Create my account").click()

    await expect(page.locator("#account")).to_contain_text("newcomer@example.com")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My account").click()
    await expect(page.get_by_test_id("me-roles")).to_have_text("editor")
    await expect(page.get_by_text("Nova Newcomer")).to_be_visible()


async def test_an_unverified_user_has_the_link_sent_again_and_verifies(
    page: Page, make_user: MakeUser, mail: Mail, session: AsyncSession
) -> None:
    user = await make_user()
    email = user.email
    await sign_in(page, email)
    banner = page.get_by_role("region", name="Email verification")
    await banner.get_by_role("button", name="Send the link again").click()
    await expect(banner).to_contain_text("If the address can receive it, a mail is on its way.")

    await page.goto(await mail.link(email, "verify-email"))
    await expect(page.get_by_role("button", name="Verify my address")).to_be_visible()
    await expect(banner).to_have_count(0)
    await session.refresh(user)
    assert user.email_verified_at is None  # opening the link changed nothing
    await session.rollback()  # ends the read, which on SQLite would hold off the server's write
    await page.get_by_role("button", name="Verify my address").click()

    await expect(page.get_by_role("status")).to_have_text(f"Your address {email} is verified.")
    await expect(page.get_by_role("heading", name="Articles")).to_be_visible()
    await expect(banner).to_have_count(0)


async def test_a_new_address_is_confirmed_after_signing_in(
    page: Page, make_user: MakeUser, mail: Mail
) -> None:
    user = await make_user()
    await sign_in(page, user.email)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My account").click()
    form = page.get_by_role("form", name="Email address")
    await form.get_by_label("New email").fill("moved@example.com")
    await form.get_by_label("Your password").fill(PASSWORD)
    await form.get_by_role("button", name="Send a confirmation link").click()
    await expect(page.get_by_text("a confirmation link is on its way")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    await page.goto(await mail.link("moved@example.com", "confirm-email"))
    await expect(page.get_by_role("status")).to_have_text("Sign in to confirm your new address.")
    await sign_in(page, user.email)
    await page.get_by_role("button", name="Confirm my new address").click()

    await expect(page.get_by_role("status")).to_have_text("Your address is now moved@example.com.")
    await expect(page.get_by_test_id("me-email")).to_have_text("moved@example.com")


async def test_an_admin_sends_a_user_a_reset_link(
    page: Page, make_user: MakeUser, mail: Mail
) -> None:
    admin = await make_user(roles=["admin"])
    user = await make_user()
    await sign_in(page, admin.email)

    await page.goto(f"/ui/#/users/{user.id}")
    await page.get_by_role("button", name="Send a password reset link").click()

    await expect(page.get_by_role("status")).to_have_text("A reset link is on its way to the user.")
    assert await mail.link(user.email, "reset-password")
    assert mail.links(admin.email, "reset-password") == []


async def test_a_viewer_is_offered_no_invitation_and_no_reset_link(
    page: Page, make_user: MakeUser
) -> None:
    viewer = await make_user(roles=["viewer"])
    other: User = await make_user()
    await sign_in(page, viewer.email)

    await page.goto("/ui/#/users")
    await expect(page.get_by_role("region", name="Users")).to_be_visible()
    await expect(page.get_by_role("form", name="Invite someone")).to_have_count(0)
    await page.goto(f"/ui/#/users/{other.id}")
    await expect(page.get_by_role("link", name="← All users")).to_be_visible()
    await expect(page.get_by_role("button", name="Send a password reset link")).to_have_count(0)
