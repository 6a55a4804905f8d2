"""What the console shows of authorization: Edit and Delete where the caller may act on the
article (their own with update_article / delete_article, anyone's with the *_any_* permission),
the policy as a roles x routes table, and why a user would be refused a route."""

from playwright.async_api import Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.models import Article
from app.auth.exceptions import NotOwner
from app.auth.models import User
from tests.browser.conftest import sign_in
from tests.conftest import MakeRole, MakeUser

PATCH_ARTICLE = "PATCH /articles/{article_id}"
DELETE_ARTICLE = "DELETE /articles/{article_id}"


async def add_article(session: AsyncSession, author: User | None, title: str) -> int:
    article = Article(
        title=title, body=f"Notes about {title.lower()}.", author_id=author.id if author else None
    )
    session.add(article)
    await session.commit()
    return article.id


def edit_link(page: Page, title: str) -> Locator:
    return page.get_by_role("link", name=f"Edit “{title}”")


def delete_button(page: Page, title: str) -> Locator:
    return page.get_by_role("button", name=f"Delete “{title}”")


async def open_article(page: Page, title: str) -> None:
    await page.get_by_role("link", name=title, exact=True).click()
    await expect(page.get_by_role("heading", name=title)).to_be_visible()


async def test_an_editor_sees_edit_on_their_own_article_only(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    editor = await make_user(roles=["editor"])
    other = await make_user(roles=["editor"])
    await add_article(session, editor, "Mine")
    await add_article(session, other, "Theirs")
    await sign_in(page, editor.email)

    await expect(edit_link(page, "Mine")).to_be_visible()
    await expect(page.get_by_role("link", name="Theirs", exact=True)).to_be_visible()
    await expect(edit_link(page, "Theirs")).to_have_count(0)

    await open_article(page, "Theirs")
    await expect(edit_link(page, "Theirs")).to_have_count(0)
    await page.get_by_role("link", name="← All articles").click()
    await open_article(page, "Mine")
    await expect(edit_link(page, "Mine")).to_be_visible()


async def test_an_admin_sees_edit_and_delete_on_everyones_articles(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    admin = await make_user(roles=["admin"])
    editor = await make_user(roles=["editor"])
    await add_article(session, admin, "Mine")
    await add_article(session, editor, "Theirs")
    await sign_in(page, admin.email)

    for title in ("Mine", "Theirs"):
        await expect(edit_link(page, title)).to_be_visible()
        await expect(delete_button(page, title)).to_be_visible()
    await open_article(page, "Theirs")
    await expect(edit_link(page, "Theirs")).to_be_visible()
    await expect(delete_button(page, "Theirs")).to_be_visible()


async def test_delete_shows_on_the_callers_own_articles_only_without_delete_any_article(
    page: Page, make_user: MakeUser, make_role: MakeRole, session: AsyncSession
) -> None:
    await make_role("author", permissions=["read_article", "delete_article"])
    author = await make_user(roles=["author"])
    other = await make_user(roles=["editor"])
    await add_article(session, author, "Mine")
    await add_article(session, other, "Theirs")
    await sign_in(page, author.email)

    await expect(delete_button(page, "Mine")).to_be_visible()
    await expect(page.get_by_role("link", name="Theirs", exact=True)).to_be_visible()
    await expect(delete_button(page, "Theirs")).to_have_count(0)
    await expect(edit_link(page, "Mine")).to_have_count(0)  # no update_article


async def test_an_article_whose_author_was_deleted_is_nobodys_own(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    editor = await make_user(roles=["editor"])
    await add_article(session, None, "Orphan")
    await sign_in(page, editor.email)

    await expect(page.get_by_role("link", name="Orphan", exact=True)).to_be_visible()
    await expect(edit_link(page, "Orphan")).to_have_count(0)


async def test_saving_someone_elses_article_shows_the_apis_not_owner_refusal(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    """The hidden link is a courtesy: the form, opened by its address, gets the API's 403."""
    editor = await make_user(roles=["editor"])
    other = await make_user(roles=["editor"])
    article_id = await add_article(session, other, "Theirs")
    await sign_in(page, editor.email)

    await page.goto(f"/ui/#/articles/{article_id}/edit")
    await expect(page.get_by_label("Title")).to_have_value("Theirs")
    await page.get_by_label("Title").fill("Hijacked")
    await page.get_by_role("button", name="Save changes").click()

    refusal = NotOwner("article", "update_any_article")
    await expect(page.get_by_role("alert")).to_have_text(refusal.message)


async def matrix_cell(matrix: Locator, route: str, role: str) -> Locator:
    """The cell of this route's row (its row header) under this role's column header."""
    await expect(matrix).to_be_visible()  # the headers are read once, so wait for them
    columns = await matrix.get_by_role("columnheader").all_inner_texts()
    row = matrix.get_by_role("row").filter(
        has=matrix.page.get_by_role("rowheader", name=route, exact=True)
    )
    return row.get_by_role("cell").nth(columns.index(role) - 1)  # the row header is no cell


async def test_the_roles_page_shows_the_policy_as_a_matrix(page: Page, make_user: MakeUser) -> None:
    admin = await make_user(roles=["admin"])
    await sign_in(page, admin.email)

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Roles").click()

    matrix = page.get_by_role("table", name="Roles and routes")
    await expect(matrix.get_by_role("columnheader")).to_have_text(
        ["Route", "Requires", "admin", "editor", "viewer"]
    )
    await expect(await matrix_cell(matrix, PATCH_ARTICLE, "editor")).to_have_text("own")
    await expect(await matrix_cell(matrix, PATCH_ARTICLE, "admin")).to_have_text("allowed")
    await expect(await matrix_cell(matrix, PATCH_ARTICLE, "viewer")).to_have_text("denied")
    await expect(await matrix_cell(matrix, PATCH_ARTICLE, "Requires")).to_have_text(
        "update_article; anyone's: update_any_article"
    )
    await expect(await matrix_cell(matrix, DELETE_ARTICLE, "editor")).to_have_text("denied")
    # Only routes that need a permission: any signed-in user may read their own account.
    await expect(matrix.get_by_role("rowheader", name="GET /users/me")).to_have_count(0)


async def test_the_matrix_has_a_column_for_every_role(
    page: Page, make_user: MakeUser, make_role: MakeRole
) -> None:
    await make_role("author", permissions=["read_article", "update_article"])
    admin = await make_user(roles=["admin"])
    await sign_in(page, admin.email)

    await page.goto("/ui/#/roles")

    matrix = page.get_by_role("table", name="Roles and routes")
    await expect(await matrix_cell(matrix, PATCH_ARTICLE, "author")).to_have_text("own")
    await expect(await matrix_cell(matrix, DELETE_ARTICLE, "author")).to_have_text("denied")


async def explain(page: Page, user_id: int, method: str, path: str) -> Locator:
    form = page.get_by_role("form", name="Why was a user refused?")
    await form.get_by_label("User id").fill(str(user_id))
    await form.get_by_label("Method").select_option(method)
    await form.get_by_label("Path").fill(path)
    await form.get_by_role("button", name="Explain").click()
    return page.get_by_test_id("explanation")


async def test_explain_says_why_a_user_is_refused(page: Page, make_user: MakeUser) -> None:
    admin = await make_user(roles=["admin"])
    viewer = await make_user(roles=["viewer"])
    await sign_in(page, admin.email)
    await page.goto("/ui/#/roles")

    explanation = await explain(page, viewer.id, "GET", "/audit-events")

    await expect(page.get_by_test_id("explain-decision")).to_have_text("denied")
    await expect(explanation).to_contain_text("GET /audit-events")
    await expect(explanation).to_contain_text("Missing permission: read_audit.")


async def test_explain_says_an_editor_may_edit_their_own_articles_only(
    page: Page, make_user: MakeUser
) -> None:
    admin = await make_user(roles=["admin"])
    editor = await make_user(roles=["editor"])
    await sign_in(page, admin.email)
    await page.goto("/ui/#/roles")

    explanation = await explain(page, editor.id, "PATCH", "/articles/7")

    await expect(page.get_by_test_id("explain-decision")).to_have_text("own objects only")
    await expect(explanation).to_contain_text(PATCH_ARTICLE)
    await expect(explanation).to_contain_text("someone else's need update_any_article")


async def test_explain_shows_the_apis_message_for_an_unknown_path(
    page: Page, make_user: MakeUser
) -> None:
    admin = await make_user(roles=["admin"])
    await sign_in(page, admin.email)
    await page.goto("/ui/#/roles")

    await explain(page, admin.id, "GET", "/nowhere")

    form = page.get_by_role("form", name="Why was a user refused?")
    await expect(form.get_by_role("alert")).to_contain_text(
        "No route of the API serves GET /nowhere."
    )
    await expect(page.get_by_test_id("explain-decision")).to_have_count(0)
