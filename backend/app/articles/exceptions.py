"""Errors of articles."""

from app.core.errors import NotFound


class ArticleNotFound(NotFound):
    detail = "Article not found."
