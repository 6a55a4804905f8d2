"""The one source of "now", so that tests can move time instead of sleeping."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
