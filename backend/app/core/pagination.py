"""Limit/offset paging, shared by every list endpoint."""

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int
