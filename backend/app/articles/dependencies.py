"""Who may do what with articles, and the loader that turns a path id into an article."""

from typing import Annotated

from fastapi import Depends

from app.articles import service
from app.articles.models import Article
from app.auth.dependencies import owned_or_any, require_permission
from app.auth.permissions import Perm
from app.auth.schemas import Principal
from app.core.database import SessionDep
from app.core.types import IdPath

ArticleReader = Annotated[Principal, require_permission(Perm.READ_ARTICLE)]
ArticleCreator = Annotated[Principal, require_permission(Perm.CREATE_ARTICLE)]


async def article_or_404(article_id: IdPath, session: SessionDep) -> Article:
    return await service.get_article(session, article_id)


def _author_of(article: Article) -> int | None:
    return article.author_id  # None once the author is deleted: then nobody's own


ArticleDep = Annotated[Article, Depends(article_or_404)]
# The article the caller may edit or delete: their own, or anyone's with the *_any_* permission.
EditableArticle = Annotated[
    Article,
    owned_or_any(
        own=Perm.UPDATE_ARTICLE,
        any_=Perm.UPDATE_ANY_ARTICLE,
        load=article_or_404,
        owner_of=_author_of,
        noun="article",
    ),
]
DeletableArticle = Annotated[
    Article,
    owned_or_any(
        own=Perm.DELETE_ARTICLE,
        any_=Perm.DELETE_ANY_ARTICLE,
        load=article_or_404,
        owner_of=_author_of,
        noun="article",
    ),
]
