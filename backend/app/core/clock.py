"""The app's one clock.

Everything in py-auth reads the time through ``utcnow()``: timestamps, expiries, lockouts, the
access tokens' ``iat`` and ``exp`` and their check. A test moves time for the whole app in one
place (``set_source``, behind the tests' ``clock`` fixture), so code moved from one module to
another never leaves a time-travel test on the real clock.
"""

from collections.abc import Callable
from datetime import UTC, datetime


def _real_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _real_now


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Read the time from ``source`` from now on (None: the real clock again). For tests."""
    global _source
    _source = source or _real_now
