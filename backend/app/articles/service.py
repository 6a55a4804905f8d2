"""Article logic: plain functions of a session; the caller's permission is checked by the route.

The list, the hot read, is the exception: one statement through ``Database.fetch``, outside
any transaction.
"""

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.articles.exceptions import ArticleNotFound
from app.articles.models import Article
from app.articles.schemas import ArticleCreate, ArticleUpdate
from app.auth.models import User
from app.core.database import Database
from app.core.fast_read import FastRead
from app.core.pagination import PageParams, page_of


def _articles_query() -> Select[Article]:
    return select(Article).options(joinedload(Article.author))


async def get_article(session: AsyncSession, article_id: int) -> Article:
    article = await session.scalar(_articles_query().where(Article.id == article_id))
    if article is None:
        raise ArticleNotFound()
    return article


class ListedArticle(NamedTuple):
    """An article of the list, with only the author's columns that the list shows."""

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime
    author_id: int | None  # None once the author is deleted
    author_full_name: str | None


# The columns are ListedArticle's, in its order; of users, only what the list shows.
ARTICLES_PAGE = FastRead(
    "articles_page",
    select(
        Article.id,
        Article.title,
        Article.body,
        Article.created_at,
        Article.updated_at,
        User.id,
        User.full_name,
    )
    .outerjoin(User, User.id == Article.author_id)
    .order_by(Article.created_at.desc(), Article.id.desc())
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer)),
    ListedArticle,
)


async def list_articles(database: Database, page: PageParams) -> tuple[list[ListedArticle], bool]:
    """A page of articles, newest first, and whether more follow: one round trip, no count."""
    rows = await database.fetch(ARTICLES_PAGE, {"limit": page.fetch_limit, "offset": page.offset})
    return page_of(rows, page)


async def create_article(session: AsyncSession, data: ArticleCreate, *, author_id: int) -> Article:
    article = Article(title=data.title, body=data.body, author_id=author_id)
    session.add(article)
    await session.flush()
    return await get_article(session, article.id)


async def update_article(
    session: AsyncSession, article: Article, changes: ArticleUpdate
) -> Article:
    for field in changes.model_fields_set:
        value = getattr(changes, field)
        if value is not None:
            setattr(article, field, value)
    await session.flush()
    return article


async def delete_article(session: AsyncSession, article: Article) -> None:
    await session.delete(article)
    await session.flush()
