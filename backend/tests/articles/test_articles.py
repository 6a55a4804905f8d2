"""/articles: paging, reading, writing and deleting, each gated by its own permission.

Every endpoint is walked in the same order: anonymous 401, missing permission 403,
not found 404, valid.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

from app.articles import service
from app.articles.models import Article
from app.articles.schemas import ArticleRead, AuthorRead
from app.auth.models import User
from app.core.pagination import Page
from tests.helpers import assert_error, end_read, postgres_only

BASE_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
INVALID_IDS = [0, 2**31, 10**30]


async def make_article(
    session: Any,
    author: User | None,
    *,
    title: str = "A title",
    body: str = "A body",
    created_at: datetime = BASE_TIME,
) -> Article:
    article = Article(
        title=title,
        body=body,
        author_id=author.id if author else None,
        created_at=created_at,
        updated_at=created_at,
    )
    session.add(article)
    await session.commit()
    return article


async def make_articles(session: Any, author: User, count: int) -> list[Article]:
    """`count` articles, the i-th created i minutes after BASE_TIME; returned newest first."""
    articles = [
        Article(
            title=f"Article {i}",
            body="",
            author_id=author.id,
            created_at=BASE_TIME + timedelta(minutes=i),
            updated_at=BASE_TIME + timedelta(minutes=i),
        )
        for i in range(count)
    ]
    session.add_all(articles)
    await session.commit()
    return articles[::-1]


async def stored_article(session: Any, article_id: int) -> Article | None:
    article: Article | None = await session.scalar(
        select(Article).where(Article.id == article_id).execution_options(populate_existing=True)
    )
    await end_read(session)
    return article


class TestListArticles:
    async def test_anonymous_is_401(self, client):
        response = await client.get("/articles")

        assert_error(response, 401, "not_authenticated")

    async def test_without_read_article_is_403(self, client, make_user, auth_headers):
        nobody = await make_user(roles=[])

        response = await client.get("/articles", headers=await auth_headers(nobody))

        assert_error(response, 403, "permission_denied")

    async def test_returns_a_page_envelope(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])
        article = await make_article(session, viewer)

        response = await client.get("/articles", headers=await auth_headers(viewer))

        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"items", "limit", "offset", "has_more"}
        assert [item["id"] for item in page["items"]] == [article.id]
        assert (page["limit"], page["offset"], page["has_more"]) == (20, 0, False)

    async def test_default_limit_is_20(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])
        articles = await make_articles(session, viewer, 21)

        page = (await client.get("/articles", headers=await auth_headers(viewer))).json()

        assert [item["id"] for item in page["items"]] == [a.id for a in articles[:20]]
        assert page["limit"] == 20
        assert page["has_more"] is True

    async def test_limit_and_offset_select_a_window(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])
        articles = await make_articles(session, viewer, 5)

        response = await client.get(
            "/articles", params={"limit": 2, "offset": 2}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert [item["id"] for item in page["items"]] == [a.id for a in articles[2:4]]
        assert (page["limit"], page["offset"], page["has_more"]) == (2, 2, True)

    async def test_an_exactly_full_page_with_nothing_after_has_no_more(
        self, client, session, make_user, auth_headers
    ):
        viewer = await make_user(roles=["viewer"])
        await make_articles(session, viewer, 2)

        response = await client.get(
            "/articles", params={"limit": 2}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert len(page["items"]) == 2
        assert page["has_more"] is False

    async def test_one_article_more_than_a_page_has_more(
        self, client, session, make_user, auth_headers
    ):
        viewer = await make_user(roles=["viewer"])
        articles = await make_articles(session, viewer, 3)

        response = await client.get(
            "/articles", params={"limit": 2}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert [item["id"] for item in page["items"]] == [a.id for a in articles[:2]]
        assert page["has_more"] is True

    async def test_the_last_page_has_no_more(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])
        articles = await make_articles(session, viewer, 5)

        response = await client.get(
            "/articles", params={"limit": 2, "offset": 4}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert [item["id"] for item in page["items"]] == [articles[4].id]
        assert page["has_more"] is False

    async def test_offset_past_the_end_is_an_empty_page(
        self, client, session, make_user, auth_headers
    ):
        viewer = await make_user(roles=["viewer"])
        await make_articles(session, viewer, 2)

        response = await client.get(
            "/articles", params={"offset": 5}, headers=await auth_headers(viewer)
        )

        assert response.status_code == 200
        assert response.json()["items"] == []
        assert response.json()["has_more"] is False

    @pytest.mark.parametrize("limit", [1, 100])
    async def test_limit_bounds_are_accepted(self, client, session, make_user, auth_headers, limit):
        viewer = await make_user(roles=["viewer"])
        articles = await make_articles(session, viewer, 2)

        response = await client.get(
            "/articles", params={"limit": limit}, headers=await auth_headers(viewer)
        )

        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, len(articles))
        assert response.json()["limit"] == limit

    @pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
    async def test_limit_out_of_range_or_not_a_number_is_422(
        self, client, make_user, auth_headers, limit
    ):
        viewer = await make_user(roles=["viewer"])

        response = await client.get(
            "/articles", params={"limit": limit}, headers=await auth_headers(viewer)
        )

        assert_error(response, 422, "validation_error")
        assert response.json()["errors"][0]["loc"] == ["query", "limit"]

    async def test_negative_offset_is_422(self, client, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])

        response = await client.get(
            "/articles", params={"offset": -1}, headers=await auth_headers(viewer)
        )

        assert_error(response, 422, "validation_error")
        assert response.json()["errors"][0]["loc"] == ["query", "offset"]

    async def test_newest_first(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])
        # Inserted out of date order, so that id order is not date order.
        middle = await make_article(session, viewer, created_at=BASE_TIME)
        newest = await make_article(session, viewer, created_at=BASE_TIME + timedelta(hours=1))
        oldest = await make_article(session, viewer, created_at=BASE_TIME - timedelta(hours=1))

        page = (await client.get("/articles", headers=await auth_headers(viewer))).json()

        assert [item["id"] for item in page["items"]] == [newest.id, middle.id, oldest.id]

    async def test_same_creation_time_lists_the_higher_id_first(
        self, client, session, make_user, auth_headers
    ):
        viewer = await make_user(roles=["viewer"])
        first = await make_article(session, viewer, created_at=BASE_TIME)
        second = await make_article(session, viewer, created_at=BASE_TIME)

        page = (await client.get("/articles", headers=await auth_headers(viewer))).json()

        assert [item["id"] for item in page["items"]] == [second.id, first.id]

    @pytest.mark.parametrize("full_name", ["Ada Author", None])
    async def test_an_item_is_the_article_as_read_alone(
        self, client, session, make_user, auth_headers, full_name
    ):
        author = await make_user(roles=["editor"], full_name=full_name)
        # Microseconds too: timestamps must come out alike from either read.
        created_at = BASE_TIME + timedelta(microseconds=250_001)
        article = await make_article(
            session, author, title="Hello", body="World", created_at=created_at
        )
        headers = await auth_headers(author)

        page = (await client.get("/articles", headers=headers)).json()
        alone = (await client.get(f"/articles/{article.id}", headers=headers)).json()

        assert page["items"] == [alone]
        assert alone["author"] == {"id": author.id, "full_name": full_name}

    async def test_a_page_is_sent_exactly_as_its_response_model_would_send_it(
        self, client, session, make_user, auth_headers
    ):
        # The page is sent from plain dicts (json_response), not from models: its bytes must be
        # those of Page[ArticleRead], the documented shape (field order, the timestamps' form
        # with and without microseconds, a deleted author's null, the escaping of any text).
        author = await make_user(roles=["editor"], full_name="Ada Lovelace-Byron ü 中文")
        await make_article(session, author, created_at=BASE_TIME)
        await make_article(
            session,
            None,
            title='Quotes " and \\ back-slash, </script>',
            body="tab\t new line\n control \x01\x1f del \x7f é 😀 \u2028 \u2029",
            created_at=BASE_TIME + timedelta(microseconds=7),
        )

        response = await client.get("/articles", headers=await auth_headers(author))

        page = Page[ArticleRead].model_validate_json(response.content)
        assert response.content == page.model_dump_json().encode()
        assert [item.author for item in page.items] == [
            None,
            AuthorRead(id=author.id, full_name="Ada Lovelace-Byron ü 中文"),
        ]

    async def test_author_is_null_once_the_author_is_deleted(
        self, client, session, make_user, auth_headers
    ):
        author = await make_user(roles=["editor"])
        article = await make_article(session, author)
        await session.execute(delete(User).where(User.id == author.id))
        await session.commit()
        viewer = await make_user(roles=["viewer"])

        page = (await client.get("/articles", headers=await auth_headers(viewer))).json()

        assert [item["id"] for item in page["items"]] == [article.id]
        assert page["items"][0]["author"] is None

    async def test_a_page_is_one_statement_with_no_count(
        self, client, session, make_user, auth_headers, statements
    ):
        viewer = await make_user(roles=["viewer"])
        await make_articles(session, viewer, 3)
        headers = await auth_headers(viewer)

        statements.clear()
        response = await client.get("/articles", params={"limit": 2}, headers=headers)

        assert response.status_code == 200
        reads = [sql for sql in statements if "articles" in sql]
        assert len(reads) == 1, statements
        assert "count(" not in reads[0].lower()

    async def test_a_page_reads_of_the_author_only_the_id_and_name(
        self, client, session, make_user, auth_headers, statements
    ):
        viewer = await make_user(roles=["viewer"])
        await make_articles(session, viewer, 1)

        statements.clear()
        await client.get("/articles", headers=await auth_headers(viewer))

        (read,) = [sql for sql in statements if "articles" in sql]
        user_columns = set(re.findall(r"\busers\.(\w+)", read))
        assert user_columns == {"id", "full_name"}

    @postgres_only
    async def test_a_page_opens_no_transaction(
        self, client, session, make_user, auth_headers, statements
    ):
        viewer = await make_user(roles=["viewer"])
        await make_articles(session, viewer, 3)
        headers = await auth_headers(viewer)

        statements.clear()
        response = await client.get("/articles", headers=headers)

        assert response.status_code == 200
        # The caller, then the page: each one round trip, no BEGIN or COMMIT around them.
        assert len(statements) == 2, statements
        assert not [sql for sql in statements if not sql.lstrip().upper().startswith("SELECT")]

    @pytest.mark.parametrize("dialect", [PGDialect_asyncpg(), SQLiteDialect_aiosqlite()])
    def test_the_page_statement_binds_limit_and_offset_by_name(self, dialect):
        """Database.fetch hands asyncpg the values in the compiled statement's order."""
        _, names = service.ARTICLES_PAGE.compiled(dialect)

        assert names == ("limit", "offset")


class TestReadArticle:
    async def test_anonymous_is_401(self, client, session, make_user):
        article = await make_article(session, await make_user())

        response = await client.get(f"/articles/{article.id}")

        assert_error(response, 401, "not_authenticated")

    async def test_without_read_article_is_403(self, client, session, make_user, auth_headers):
        nobody = await make_user(roles=[])
        article = await make_article(session, nobody)

        response = await client.get(f"/articles/{article.id}", headers=await auth_headers(nobody))

        assert_error(response, 403, "permission_denied")

    async def test_unknown_id_is_404_not_found(self, client, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])

        response = await client.get("/articles/999999", headers=await auth_headers(viewer))

        assert_error(response, 404, "not_found")
        assert response.json()["detail"] == "Article not found."

    async def test_returns_the_article_with_its_author(
        self, client, session, make_user, auth_headers
    ):
        author = await make_user(roles=["editor"], full_name="Ada Author")
        article = await make_article(session, author, title="Hello", body="World")
        viewer = await make_user(roles=["viewer"])

        response = await client.get(f"/articles/{article.id}", headers=await auth_headers(viewer))

        assert response.status_code == 200
        body = response.json()
        assert body["id"] == article.id
        assert (body["title"], body["body"]) == ("Hello", "World")
        assert body["author"] == {"id": author.id, "full_name": "Ada Author"}
        assert {"created_at", "updated_at"} <= set(body)

    @pytest.mark.parametrize("article_id", INVALID_IDS)
    async def test_id_outside_the_id_range_is_422_not_500(
        self, client, make_user, auth_headers, article_id
    ):
        viewer = await make_user(roles=["viewer"])

        response = await client.get(f"/articles/{article_id}", headers=await auth_headers(viewer))

        assert_error(response, 422, "validation_error")
        assert response.json()["errors"][0]["loc"] == ["path", "article_id"]

    async def test_author_is_null_once_the_author_is_deleted(
        self, client, session, make_user, auth_headers
    ):
        author = await make_user(roles=["editor"])
        article = await make_article(session, author)
        await session.execute(delete(User).where(User.id == author.id))
        await session.commit()
        viewer = await make_user(roles=["viewer"])

        response = await client.get(f"/articles/{article.id}", headers=await auth_headers(viewer))

        assert response.status_code == 200
        assert response.json()["author"] is None


class TestCreateArticle:
    async def test_anonymous_is_401(self, client):
        response = await client.post("/articles", json={"title": "T"})

        assert_error(response, 401, "not_authenticated")

    async def test_without_create_article_is_403(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])

        response = await client.post(
            "/articles", json={"title": "T"}, headers=await auth_headers(viewer)
        )

        assert_error(response, 403, "permission_denied")
        assert await session.scalar(select(Article.id)) is None

    async def test_returns_201_with_the_caller_as_author(
        self, client, session, make_user, auth_headers
    ):
        editor = await make_user(roles=["editor"], full_name="Eddie Editor")

        response = await client.post(
            "/articles", json={"title": "New", "body": "Text"}, headers=await auth_headers(editor)
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["title"], body["body"]) == ("New", "Text")
        assert body["author"] == {"id": editor.id, "full_name": "Eddie Editor"}
        stored = await stored_article(session, body["id"])
        assert stored is not None
        assert stored.author_id == editor.id

    async def test_body_defaults_to_empty(self, client, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.post(
            "/articles", json={"title": "T"}, headers=await auth_headers(editor)
        )

        assert response.status_code == 201
        assert response.json()["body"] == ""

    async def test_new_article_leads_the_list(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])
        await make_article(session, editor, created_at=BASE_TIME)

        created = await client.post(
            "/articles", json={"title": "T"}, headers=await auth_headers(editor)
        )

        page = (await client.get("/articles", headers=await auth_headers(editor))).json()
        assert page["items"][0]["id"] == created.json()["id"]

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({"title": ""}, id="empty-title"),
            pytest.param({"title": "x" * 201}, id="201-char-title"),
            pytest.param({"title": "T", "body": "x" * 50_001}, id="body-over-50000"),
            pytest.param({}, id="missing-title"),
            pytest.param({"title": 5}, id="title-not-a-string"),
        ],
    )
    async def test_invalid_fields_are_422(self, client, session, make_user, auth_headers, payload):
        editor = await make_user(roles=["editor"])

        response = await client.post("/articles", json=payload, headers=await auth_headers(editor))

        assert_error(response, 422, "validation_error")
        assert await session.scalar(select(Article.id)) is None

    async def test_limits_themselves_are_accepted(self, client, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.post(
            "/articles",
            json={"title": "x" * 200, "body": "y" * 50_000},
            headers=await auth_headers(editor),
        )

        assert response.status_code == 201

    @pytest.mark.parametrize("field", ["author_id", "id", "created_at", "author"])
    async def test_unknown_field_is_422(self, client, session, make_user, auth_headers, field):
        editor = await make_user(roles=["editor"])
        other = await make_user(roles=["editor"])

        response = await client.post(
            "/articles", json={"title": "T", field: other.id}, headers=await auth_headers(editor)
        )

        assert_error(response, 422, "validation_error")
        assert response.json()["errors"][0]["loc"] == ["body", field]
        assert await session.scalar(select(Article.id)) is None


class TestUpdateArticle:
    async def test_anonymous_is_401(self, client, session, make_user):
        article = await make_article(session, await make_user())

        response = await client.patch(f"/articles/{article.id}", json={"title": "X"})

        assert_error(response, 401, "not_authenticated")

    async def test_without_update_article_is_403(self, client, session, make_user, auth_headers):
        viewer = await make_user(roles=["viewer"])
        article = await make_article(session, viewer, title="Before")

        response = await client.patch(
            f"/articles/{article.id}", json={"title": "After"}, headers=await auth_headers(viewer)
        )

        assert_error(response, 403, "permission_denied")
        stored = await stored_article(session, article.id)
        assert stored is not None
        assert stored.title == "Before"

    async def test_without_permission_an_unknown_id_is_403_too(
        self, client, make_user, auth_headers
    ):
        viewer = await make_user(roles=["viewer"])

        response = await client.patch(
            "/articles/999999", json={"title": "X"}, headers=await auth_headers(viewer)
        )

        assert_error(response, 403, "permission_denied")

    async def test_unknown_id_is_404(self, client, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.patch(
            "/articles/999999", json={"title": "X"}, headers=await auth_headers(editor)
        )

        assert_error(response, 404, "not_found")

    async def test_changes_only_the_given_fields(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])
        article = await make_article(session, editor, title="Before", body="Kept")

        response = await client.patch(
            f"/articles/{article.id}", json={"title": "After"}, headers=await auth_headers(editor)
        )

        assert response.status_code == 200
        assert (response.json()["title"], response.json()["body"]) == ("After", "Kept")
        stored = await stored_article(session, article.id)
        assert stored is not None
        assert (stored.title, stored.body) == ("After", "Kept")

    async def test_bumps_updated_at(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])
        article = await make_article(session, editor, created_at=BASE_TIME)

        response = await client.patch(
            f"/articles/{article.id}", json={"body": "New"}, headers=await auth_headers(editor)
        )

        body = response.json()
        assert datetime.fromisoformat(body["updated_at"]) > BASE_TIME
        assert datetime.fromisoformat(body["created_at"]) == BASE_TIME

    async def test_another_authors_article_can_be_edited_with_update_any_article(
        self, client, session, make_user, auth_headers
    ):
        author = await make_user(roles=["editor"])
        article = await make_article(session, author)
        admin = await make_user(roles=["admin"])

        response = await client.patch(
            f"/articles/{article.id}", json={"title": "Edited"}, headers=await auth_headers(admin)
        )

        assert response.status_code == 200
        assert response.json()["author"]["id"] == author.id

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({"title": ""}, id="empty-title"),
            pytest.param({"title": "x" * 201}, id="201-char-title"),
            pytest.param({"body": "x" * 50_001}, id="body-over-50000"),
            pytest.param({"author_id": 1}, id="unknown-field"),
        ],
    )
    async def test_invalid_changes_are_422(self, client, session, make_user, auth_headers, payload):
        editor = await make_user(roles=["editor"])
        article = await make_article(session, editor, title="Before")

        response = await client.patch(
            f"/articles/{article.id}", json=payload, headers=await auth_headers(editor)
        )

        assert_error(response, 422, "validation_error")
        stored = await stored_article(session, article.id)
        assert stored is not None
        assert stored.title == "Before"

    @pytest.mark.parametrize("article_id", INVALID_IDS)
    async def test_id_outside_the_id_range_is_422_not_500(
        self, client, make_user, auth_headers, article_id
    ):
        editor = await make_user(roles=["editor"])

        response = await client.patch(
            f"/articles/{article_id}", json={"title": "X"}, headers=await auth_headers(editor)
        )

        assert_error(response, 422, "validation_error")


class TestDeleteArticle:
    async def test_anonymous_is_401(self, client, session, make_user):
        article = await make_article(session, await make_user())

        response = await client.delete(f"/articles/{article.id}")

        assert_error(response, 401, "not_authenticated")

    async def test_without_delete_article_is_403(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])
        article = await make_article(session, editor)

        response = await client.delete(
            f"/articles/{article.id}", headers=await auth_headers(editor)
        )

        assert_error(response, 403, "permission_denied")
        assert await stored_article(session, article.id) is not None

    async def test_unknown_id_is_404(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.delete("/articles/999999", headers=await auth_headers(admin))

        assert_error(response, 404, "not_found")

    async def test_returns_204_and_the_article_is_gone(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        article = await make_article(session, admin)

        response = await client.delete(f"/articles/{article.id}", headers=await auth_headers(admin))

        assert response.status_code == 204
        assert response.content == b""
        again = await client.get(f"/articles/{article.id}", headers=await auth_headers(admin))
        assert_error(again, 404, "not_found")
        assert await stored_article(session, article.id) is None

    @pytest.mark.parametrize("article_id", INVALID_IDS)
    async def test_id_outside_the_id_range_is_422_not_500(
        self, client, make_user, auth_headers, article_id
    ):
        admin = await make_user(roles=["admin"])

        response = await client.delete(f"/articles/{article_id}", headers=await auth_headers(admin))

        assert_error(response, 422, "validation_error")
