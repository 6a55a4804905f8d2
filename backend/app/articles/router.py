"""/articles: CRUD, each action gated by its own permission; editing and deleting apply to
the caller's own articles unless they hold the *_any_* permission."""

from fastapi import APIRouter, Request, Response, status

from app.articles import service
from app.articles.dependencies import (
    ArticleCreator,
    ArticleDep,
    ArticleReader,
    DeletableArticle,
    EditableArticle,
)
from app.articles.schemas import (
    ArticleCreate,
    ArticleJSON,
    ArticlePageJSON,
    ArticleRead,
    ArticleUpdate,
)
from app.articles.service import ListedArticle
from app.core.app_state import database_of
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.pagination import Page, PageParamsDep
from app.core.schemas import json_response

router = APIRouter(prefix="/articles", tags=["articles"])


@router.get("", response_model=Page[ArticleRead])
async def list_articles(_: ArticleReader, request: Request, page: PageParamsDep) -> Response:
    # The hot read: no ORM session, no transaction (see service.list_articles), and the page
    # sent from plain dicts (json_response).
    articles, has_more = await service.list_articles(database_of(request), page)
    body: ArticlePageJSON = {
        "items": [_article_json(article) for article in articles],
        "limit": page.limit,
        "offset": page.offset,
        "has_more": has_more,
    }
    return json_response(body)


def _article_json(article: ListedArticle) -> ArticleJSON:
    # Dict displays, in ArticleRead's order: calling the TypedDicts would cost a call each.
    return {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "author": (
            None
            if article.author_id is None
            else {"id": article.author_id, "full_name": article.author_full_name}
        ),
        "created_at": article.created_at,
        "updated_at": article.updated_at,
    }


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ArticleRead)
async def create_article(
    body: ArticleCreate, author: ArticleCreator, session: SessionDep
) -> ArticleRead:
    article = await service.create_article(session, body, author_id=author.id)
    return ArticleRead.model_validate(article)


@router.get("/{article_id}", response_model=ArticleRead, responses=error_responses(404))
async def read_article(_: ArticleReader, article: ArticleDep) -> ArticleRead:
    return ArticleRead.model_validate(article)


@router.patch("/{article_id}", response_model=ArticleRead, responses=error_responses(404))
async def update_article(
    body: ArticleUpdate, article: EditableArticle, session: SessionDep
) -> ArticleRead:
    """Your own article with `update_article`; anyone's with `update_any_article`."""
    return ArticleRead.model_validate(await service.update_article(session, article, body))


@router.delete(
    "/{article_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def delete_article(article: DeletableArticle, session: SessionDep) -> None:
    """Your own article with `delete_article`; anyone's with `delete_any_article`."""
    await service.delete_article(session, article)
