"""The console in a real browser: what viewers, editors and admins see and can do."""

import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.exceptions import ArticleNotFound
from app.articles.models import Article
from app.auth.models import User
from app.roles.exceptions import BuiltInRoleProtected
from tests.browser.conftest import NewContext, api_token, sign_in
from tests.conftest import MakeUser
from tests.helpers import BACKEND_DIR, bearer

SCREENSHOT = BACKEND_DIR.parent / "docs" / "console.png"


async def add_articles(session: AsyncSession, author: User, *titles: str) -> None:
    for title in titles:
        session.add(Article(title=title, body=f"Notes about {title.lower()}.", author_id=author.id))
    await session.commit()


def shown(first: int, last: int) -> str:
    """What the pager shows: "1 to 10 articles", with an en dash (the API gives no total)."""
    return f"{first}\N{EN DASH}{last} articles"


def nav(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


async def test_root_redirects_to_the_console_sign_in(page: Page, server: str) -> None:
    await page.goto("/")
    assert page.url.startswith(f"{server}/ui/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_viewer_reads_articles_without_edit_controls(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    viewer = await make_user(roles=["viewer"])
    author = await make_user(roles=["editor"], full_name="Grace Hopper")
    await add_articles(session, author, "Compilers")

    await sign_in(page, viewer.email)

    await expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Compilers", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="New article")).to_have_count(0)
    await expect(page.get_by_role("link", name="Edit “Compilers”")).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete “Compilers”")).to_have_count(0)
    await expect(nav(page, "Users")).to_be_visible()  # viewers hold read_user
    await expect(nav(page, "Roles")).to_have_count(0)
    await expect(nav(page, "Audit log")).to_have_count(0)

    await page.get_by_role("link", name="Compilers", exact=True).click()
    await expect(page.get_by_role("heading", name="Compilers")).to_be_visible()
    await expect(page.get_by_text("Notes about compilers.")).to_be_visible()
    await expect(page.get_by_text("By Grace Hopper")).to_be_visible()
    await expect(page.get_by_role("button", name="Delete “Compilers”")).to_have_count(0)


async def test_articles_are_paged(page: Page, make_user: MakeUser, session: AsyncSession) -> None:
    viewer = await make_user(roles=["viewer"])
    await add_articles(session, viewer, *(f"Article {number:02}" for number in range(1, 13)))

    await sign_in(page, viewer.email)

    await expect(page.get_by_text(shown(1, 10), exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="← Previous")).to_have_count(0)
    await page.get_by_role("link", name="Next →").click()
    await expect(page.get_by_text(shown(11, 12), exact=True)).to_be_visible()
    await expect(page.locator(".cards > li")).to_have_count(2)
    await expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    await page.get_by_role("link", name="← Previous").click()
    await expect(page.get_by_text(shown(1, 10), exact=True)).to_be_visible()


async def test_a_full_page_with_nothing_after_has_no_next_link(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    viewer = await make_user(roles=["viewer"])
    await add_articles(session, viewer, *(f"Article {number:02}" for number in range(1, 11)))

    await sign_in(page, viewer.email)

    await expect(page.get_by_text(shown(1, 10), exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Next →")).to_have_count(0)


async def test_me_shows_the_callers_roles_and_permissions(page: Page, make_user: MakeUser) -> None:
    editor = await make_user(roles=["editor"])
    await sign_in(page, editor.email)

    await nav(page, "My account").click()

    await expect(page.get_by_test_id("me-email")).to_have_text(editor.email)
    await expect(page.get_by_test_id("me-roles")).to_have_text("editor")
    permissions = page.get_by_test_id("me-permissions")
    for name in ("read_article", "create_article", "update_article", "read_user"):
        await expect(permissions).to_contain_text(name)
    await expect(permissions).not_to_contain_text("delete_article")


async def test_editor_creates_and_edits_but_cannot_delete(page: Page, make_user: MakeUser) -> None:
    editor = await make_user(roles=["editor"])
    await sign_in(page, editor.email)

    await page.get_by_role("link", name="New article").click()
    await page.get_by_label("Title").fill("Draft")
    await page.get_by_label("Text").fill("First words.")
    await page.get_by_role("button", name="Create article").click()

    await expect(page.get_by_role("heading", name="Draft")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("Article created.")
    await expect(page.get_by_role("button", name="Delete “Draft”")).to_have_count(0)
    await page.get_by_role("link", name="Edit “Draft”").click()
    await expect(page.get_by_label("Title")).to_have_value("Draft")
    await page.get_by_label("Title").fill("Final")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("heading", name="Final")).to_be_visible()
    await expect(page.get_by_text("First words.")).to_be_visible()
    await expect(nav(page, "Roles")).to_have_count(0)
    await expect(nav(page, "Audit log")).to_have_count(0)


async def test_admin_deletes_an_article(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    admin = await make_user(roles=["admin"])
    await add_articles(session, admin, "Obsolete", "Keeper")
    await sign_in(page, admin.email)

    await page.get_by_role("button", name="Delete “Obsolete”").click()  # confirm accepted

    await expect(page.get_by_role("status")).to_have_text("Article deleted.")
    await expect(page.get_by_role("link", name="Obsolete", exact=True)).to_have_count(0)
    await expect(page.get_by_role("link", name="Keeper", exact=True)).to_be_visible()


async def test_admin_filters_users_changes_roles_and_deactivates(
    page: Page, make_user: MakeUser
) -> None:
    admin = await make_user(roles=["admin"])
    await make_user("zed@example.com", roles=["viewer"])
    await make_user("amy@example.com", roles=["editor"])
    await sign_in(page, admin.email)

    await nav(page, "Users").click()
    await page.get_by_label("Role").select_option("editor")
    await page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("region", name="Users")
    await expect(table.get_by_role("link", name="amy@example.com")).to_be_visible()
    await expect(table.get_by_role("link", name="zed@example.com")).to_have_count(0)
    await page.get_by_role("link", name="Clear").click()
    # Wait for the unfiltered list, so the form filled next is the re-rendered one.
    await expect(table.get_by_role("link", name="zed@example.com")).to_be_visible()
    await expect(page.get_by_label("Role")).to_have_value("")
    await page.get_by_label("Email contains").fill("zed@")
    await page.get_by_role("button", name="Filter").click()
    await expect(table.get_by_role("link", name="amy@example.com")).to_have_count(0)
    await table.get_by_role("link", name="zed@example.com").click()

    await expect(page.get_by_role("heading", name="zed@example.com")).to_be_visible()
    await page.get_by_role("checkbox", name="editor").check()
    await page.get_by_role("button", name="Save roles").click()
    await expect(page.get_by_role("status")).to_have_text("Roles saved.")
    await expect(page.get_by_test_id("user-roles")).to_have_text("editorviewer")

    await page.get_by_role("button", name="Unlock sign-in").click()
    await expect(page.get_by_role("status")).to_contain_text("lockout lifted")
    await page.get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_have_text("Account deactivated.")
    await expect(page.get_by_role("button", name="Activate")).to_be_visible()


async def test_admin_sees_and_ends_a_users_sessions(
    new_context: NewContext, make_user: MakeUser
) -> None:
    admin = await make_user(roles=["admin"])
    viewer = await make_user("victor@example.com", roles=["viewer"])
    viewer_page = await (await new_context()).new_page()
    await sign_in(viewer_page, viewer.email)
    admin_page = await (await new_context()).new_page()
    await sign_in(admin_page, admin.email)

    await admin_page.goto(f"/ui/#/users/{viewer.id}")
    sessions = admin_page.get_by_role("region", name="Sessions of victor@example.com")
    await expect(sessions.locator("tbody tr")).to_have_count(1)
    await admin_page.get_by_role("button", name="End all sessions").click()
    await expect(admin_page.get_by_role("status")).to_contain_text("session")
    await expect(admin_page.get_by_text("No active session.")).to_be_visible()

    await nav(viewer_page, "My account").click()
    await expect(viewer_page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_admin_creates_changes_and_deletes_a_role(page: Page, make_user: MakeUser) -> None:
    admin = await make_user(roles=["admin"])
    await sign_in(page, admin.email)

    await nav(page, "Roles").click()
    await page.get_by_label("Name").fill("reviewer")
    await page.get_by_label("Description").fill("Reads and fixes typos")
    new_role = page.get_by_role("group", name="Permissions of the new role")
    await new_role.get_by_role("checkbox", name="read_article").check()
    await page.get_by_role("button", name="Create role").click()
    await expect(page.get_by_role("status")).to_have_text("Role reviewer created.")

    card = page.locator('[data-role="reviewer"]')
    await expect(card.locator(".tags")).to_have_text("read_article")
    await card.get_by_text("Change permissions of reviewer").click()
    await card.get_by_role("checkbox", name="update_article").check()
    await card.get_by_role("button", name="Save permissions").click()
    await expect(page.get_by_role("status")).to_have_text("Permissions of reviewer saved.")
    await expect(card.locator(".tags")).to_have_text("read_articleupdate_article")

    await page.get_by_role("button", name="Delete role reviewer").click()
    await expect(page.get_by_role("status")).to_have_text("Role reviewer deleted.")
    await expect(card).to_have_count(0)


async def test_admin_reads_the_audit_log_with_filters(page: Page, make_user: MakeUser) -> None:
    admin = await make_user(roles=["admin"])
    await sign_in(page, admin.email)

    await nav(page, "Audit log").click()
    events = page.get_by_role("region", name="Audit events")
    await expect(events.get_by_text("login_succeeded")).to_be_visible()
    await page.get_by_label("Event", exact=True).select_option("login_failed")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("No event matches.")).to_be_visible()
    await page.get_by_label("Event", exact=True).select_option("login_succeeded")
    await page.get_by_label("User id (actor or subject)").fill(str(admin.id))
    await page.get_by_role("button", name="Filter").click()
    await expect(events.locator("tbody tr")).to_have_count(1)


async def test_the_page_shows_the_apis_refusal(
    page: Page, make_user: MakeUser, server: str
) -> None:
    """Hidden buttons are a courtesy: a viewer who opens the form anyway gets the API's 403."""
    viewer = await make_user(roles=["viewer"])
    async with httpx.AsyncClient(base_url=server) as http:
        refusal = await http.post(
            "/articles",
            json={"title": "Sneaky"},
            headers=bearer(await api_token(server, viewer.email)),
        )
    assert refusal.status_code == 403
    await sign_in(page, viewer.email)

    await page.goto("/ui/#/articles/new")
    await page.get_by_label("Title").fill("Sneaky")
    await page.get_by_role("button", name="Create article").click()

    await expect(page.get_by_role("alert")).to_have_text(refusal.json()["detail"])


@pytest.mark.parametrize("address", ["/ui/#/articles/999999", "/ui/#/articles/999999/edit"])
async def test_a_page_that_cannot_load_shows_the_apis_message(
    page: Page, make_user: MakeUser, address: str
) -> None:
    """What a page loads goes through one helper (dom.js: load): its refusal is shown, and the
    page stops there, with no form to fill."""
    editor = await make_user(roles=["editor"])
    await sign_in(page, editor.email)

    await page.goto(address)

    await expect(page.get_by_role("alert")).to_have_text(ArticleNotFound.detail)
    await expect(page.get_by_role("button", name="Save changes")).to_have_count(0)


async def test_a_conflict_shows_the_apis_message(page: Page, make_user: MakeUser) -> None:
    admin = await make_user(roles=["admin"])
    await sign_in(page, admin.email)

    await nav(page, "Roles").click()
    await page.get_by_role("button", name="Delete role viewer").click()

    await expect(page.locator('[data-role="viewer"]').get_by_role("alert")).to_have_text(
        BuiltInRoleProtected.detail
    )


async def test_a_wrong_password_shows_the_apis_message(page: Page, make_user: MakeUser) -> None:
    user = await make_user()
    await page.goto("/ui/")
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in", exact=True).click()

    await expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")


async def test_register_then_land_signed_in_as_viewer(page: Page) -> None:
    await page.goto("/ui/#/register")
    await page.get_by_label("Email").fill("new@example.com")
    await page.get_by_label("Full name (optional)").fill("New Person")
    await page.get_by_label("Password").fill("a long enough passphrase")
    await page.get_by_role("button", name="Create account").click()

    await expect(page.locator("#account")).to_contain_text("new@example.com")
    await nav(page, "My account").click()
    await expect(page.get_by_test_id("me-roles")).to_have_text("viewer")


async def test_sign_in_with_the_keyboard_alone(page: Page, make_user: MakeUser) -> None:
    user = await make_user()
    await page.goto("/ui/")
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(user.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type("correct horse battery staple")
    await page.keyboard.press("Enter")

    await expect(page.locator("#account")).to_contain_text(user.email)


async def test_works_at_phone_width(new_context: NewContext, make_user: MakeUser) -> None:
    admin = await make_user(roles=["admin"])
    page = await (await new_context(viewport={"width": 375, "height": 740})).new_page()
    await sign_in(page, admin.email)

    for address in ("#/articles", "#/users", "#/roles", "#/audit", "#/sessions", "#/me"):
        await page.goto(f"/ui/{address}")
        await expect(page.locator("h1")).to_be_visible()
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{address} scrolls sideways by {overflow}px"


async def test_screenshot_of_the_articles_page(
    new_context: NewContext,
    make_user: MakeUser,
    session: AsyncSession,
    tmp_path: Path,
) -> None:
    """The picture in the README: the articles page as an editor sees it. Written to
    docs/console.png with UPDATE_SCREENSHOT=1 (so a test run leaves the tree clean)."""
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "console.png"
    editor = await make_user("ada@example.com", roles=["editor"], full_name="Ada Lovelace")
    editor.email_verified_at = datetime.now(UTC)  # the picture shows no verification banner
    await add_articles(
        session,
        editor,
        "Notes on the Analytical Engine",
        "Rotating refresh tokens, explained",
        "Permissions, not roles",
    )
    page = await (await new_context(viewport={"width": 1100, "height": 720})).new_page()
    await sign_in(page, editor.email)
    await expect(page.get_by_text(shown(1, 3), exact=True)).to_be_visible()

    image = await page.screenshot(path=target)  # Playwright creates docs/ if needed
    assert image.startswith(b"\x89PNG")


async def test_the_console_runs_under_its_policy_without_a_violation(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    """Every page of the console, as an admin sees them, breaks no rule of its
    Content-Security-Policy (no inline script, event handler or style attribute)."""
    await page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', (event) =>"
        " window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));"
    )
    admin = await make_user(roles=["admin"])
    await add_articles(session, admin, "Compilers")
    await sign_in(page, admin.email)

    for address in (
        "#/articles",
        "#/users",
        "#/roles",
        "#/audit",
        "#/sessions",
        "#/me",
        "#/reset-password?token=t",
        "#/verify-email?token=t",
        "#/accept-invitation?token=t",
        "#/confirm-email?token=t",
    ):
        await page.goto(f"/ui/{address}")
        await expect(page.locator("h1")).to_be_visible()
        assert await page.evaluate("window.cspViolations") == [], address
    await page.get_by_role("link", name="Articles").click()
    await page.get_by_role("link", name="Compilers", exact=True).click()
    await expect(page.get_by_role("heading", name="Compilers")).to_be_visible()
    assert await page.evaluate("window.cspViolations") == []


async def test_an_inline_script_injected_into_the_console_does_not_run(page: Page) -> None:
    await page.goto("/ui/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    ran = await page.evaluate(
        """() => {
            window.injected = false;
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            return window.injected;
        }"""
    )

    assert ran is False


async def test_a_viewer_sees_no_null_among_the_articles(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    """What a viewer may not do leaves nothing in its place, not the word "null"."""
    viewer = await make_user(roles=["viewer"])
    await sign_in(page, viewer.email)
    await expect(page.get_by_text("No articles yet.")).to_be_visible()
    assert "null" not in await page.locator("#view").inner_text()

    await add_articles(session, viewer, "Compilers")
    await page.reload()
    await expect(page.get_by_text(shown(1, 1), exact=True)).to_be_visible()
    assert "null" not in await page.locator("#view").inner_text()

    await page.get_by_role("link", name="Compilers", exact=True).click()
    await expect(page.get_by_role("link", name="← All articles")).to_be_visible()
    assert "null" not in await page.locator("#view").inner_text()
