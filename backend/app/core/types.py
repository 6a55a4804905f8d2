"""Shared parameter types."""

from typing import Annotated

from fastapi import Path

# Ids are 32-bit on every back end: a larger one cannot exist, so it is a 422, not a 500.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
