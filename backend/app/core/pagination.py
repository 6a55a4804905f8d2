"""Limit/offset paging, shared by every list endpoint.

A page says whether more items follow (``has_more``), not how many there are in all: a
count reads the whole table (or all that the filters match), so its cost grows with the
table, while one row more than the page costs nothing. A list fetches
``params.fetch_limit`` rows and hands them to ``page_of``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int

    @property
    def fetch_limit(self) -> int:
        """The rows to ask for: one more than a page tells whether another page follows."""
        return self.limit + 1


async def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


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
