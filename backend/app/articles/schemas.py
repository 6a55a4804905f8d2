"""Shapes of articles as the API shows and accepts them."""

from datetime import datetime
from typing import Annotated, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import NO_NUL, StrictModel

Title = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Body = Annotated[str, Field(max_length=50_000, pattern=NO_NUL)]


class ArticleCreate(StrictModel):
    title: Title
    body: Body = ""


class ArticleUpdate(StrictModel):
    title: Title | None = None
    body: Body | None = None


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str | None


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    author: AuthorRead | None = Field(description="null once the author's account is deleted.")
    created_at: datetime
    updated_at: datetime


# The list's page as plain dicts in ArticleRead's shape (json_response): building an ArticleRead
# and an AuthorRead per article cost more than the rest of the page in the app (BENCHMARKS.md
# item 17). The dicts' keys come in the models' order, so the bytes are those of
# Page[ArticleRead], which the route declares for the docs (tests/articles/test_articles.py
# ::test_a_page_is_sent_exactly_as_its_response_model_would_send_it).
class AuthorJSON(TypedDict):
    id: int
    full_name: str | None


class ArticleJSON(TypedDict):
    id: int
    title: str
    body: str
    author: AuthorJSON | None
    created_at: datetime
    updated_at: datetime


class ArticlePageJSON(TypedDict):
    items: list[ArticleJSON]
    limit: int
    offset: int
    has_more: bool
