"""Shapes of articles as the API shows and accepts them."""

from datetime import datetime
from typing import Annotated

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
