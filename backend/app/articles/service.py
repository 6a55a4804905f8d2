"""Article logic: plain functions of a session; the caller's permission is checked by the route."""

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.articles.exceptions import ArticleNotFound
from app.articles.models import Article
from app.articles.schemas import ArticleCreate, ArticleUpdate
from app.core.pagination import PageParams


def _articles_query() -> Select[Article]:
    return select(Article).options(joinedload(Article.author))


async def get_article(session: AsyncSession, article_id: int) -> Article:
    article = await session.scalar(_articles_query().where(Article.id == article_id))
    if article is None:
        raise ArticleNotFound()
    return article


async def list_articles(session: AsyncSession, page: PageParams) -> tuple[list[Article], int]:
    total = await session.scalar(select(func.count()).select_from(Article))
    articles = await session.scalars(
        _articles_query()
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(articles), total or 0


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
