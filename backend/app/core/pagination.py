"""Limit/offset paging, shared by every list endpoint.

A page says whether more items follow (``has_more``), not how many there are in all: a
count reads the whole table (or all that the filters match), so its cost grows with the
table, while one row more than the page costs nothing. A list fetches
``params.fetch_limit`` rows and hands them to ``page_of``.
"""

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

MAX_OFFSET = 1_000_000_000


class PageParams(BaseModel):
    """A page of a list, from the query string (``?limit=20&offset=40``).

    A query model, not a dependency: FastAPI validates it with the route's own parameters,
    where each dependency it resolves costs every request (a twentieth of GET /articles,
    BENCHMARKS.md item 22). A list with filters extends it (UsersQuery, AuditQuery): FastAPI
    reads one model from a route's query string.
    """

    model_config = ConfigDict(frozen=True)

    limit: int = Field(default=20, ge=1, le=100, description="Items per page.")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="Items to skip.")

    @property
    def fetch_limit(self) -> int:
        """The rows to ask for: one more than a page tells whether another page follows."""
        return self.limit + 1


PageParamsDep = Annotated[PageParams, Query()]


RowT = TypeVar("RowT")


def page_of(rows: Sequence[RowT], params: PageParams) -> tuple[list[RowT], bool]:
    """The page's rows out of those fetched with ``params.fetch_limit``, and whether more follow."""
    return list(rows[: params.limit]), len(rows) > params.limit


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    limit: int
    offset: int
    has_more: bool = Field(
        description="Whether items follow this page: the next page is at offset + limit."
    )
