"""Who may do what with articles, and the loader that turns a path id into an article."""

from typing import Annotated

from fastapi import Depends

from app.articles import service
from app.articles.models import Article
from app.auth.dependencies import require_permission
from app.auth.schemas import Principal
from app.core.database import SessionDep
from app.core.types import IdPath

ArticleReader = Annotated[Principal, require_permission("read_article")]
ArticleCreator = Annotated[Principal, require_permission("create_article")]
ArticleEditor = Annotated[Principal, require_permission("update_article")]
ArticleDeleter = Annotated[Principal, require_permission("delete_article")]


async def article_or_404(article_id: IdPath, session: SessionDep) -> Article:
    return await service.get_article(session, article_id)


ArticleDep = Annotated[Article, Depends(article_or_404)]
