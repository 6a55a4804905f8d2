"""Shared parameter types."""

import unicodedata
from typing import Annotated

from fastapi import Path

# Ids are 32-bit on every back end: a larger one cannot exist, so it is a 422, not a 500.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def normalize_email(email: str) -> str:
    """The one form of an address that py-auth stores, looks up and compares.

    NFKC folds compatibility characters (full-width letters are the ASCII ones) and
    casefold() is Unicode's caseless match, so two spellings a person would call the same
    address name one account, at registration, login and every lookup alike.
    """
    return unicodedata.normalize("NFKC", email).strip().casefold()
