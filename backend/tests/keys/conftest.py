"""Fixtures of the signing-key tests: the test app's key ring, and a second app on the same
database that stands for another process (its own key ring, read once)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.core.signing_keys import KeyRing
from tests.helpers import fresh_app


@pytest.fixture
def ring(app: Any) -> KeyRing:
    keys: KeyRing = app.state.access_tokens.keys
    return keys


@pytest.fixture
async def other_process(database_url: str, clean_database: None) -> AsyncIterator[Any]:
    """Another py-auth process on the test database: an app with a key ring of its own."""
    async with fresh_app(database_url) as application:
        yield application
