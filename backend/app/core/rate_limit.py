"""Per-client rate limits with the `limits` library: in memory for one process, in Redis
(RATE_LIMIT_STORAGE_URL=redis://...) when several processes must share the counts."""

import ipaddress
import logging
import math
import time
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from app.core.app_state import client_ip_of, rate_limiter_of
from app.core.errors import RateLimited, ServiceUnavailable

logger = logging.getLogger("app.rate_limit")

# Connect and command timeout of the Redis storage: an unreachable Redis answers 503, never hangs.
STORAGE_TIMEOUT_SECONDS = 2.0
# An IPv6 client usually holds a whole /64: counted per address, it would never run out.
IPV6_PREFIX = 64


class ClientRateLimiter:
    """A moving-window limit per (bucket, client IP, or IPv6 /64); off when the limit is empty."""

    def __init__(self, limit: str, storage_url: str | None) -> None:
        self.item: RateLimitItem | None = parse(limit) if limit.strip() else None
        storage = (
            storage_from_string(
                _async_url(storage_url),
                implementation="redispy",
                wrap_exceptions=True,
                socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
                socket_timeout=STORAGE_TIMEOUT_SECONDS,
            )
            if storage_url
            else MemoryStorage()
        )
        assert isinstance(storage, Storage)  # the "async+" scheme gives an asyncio storage
        self._limiter = MovingWindowRateLimiter(storage)

    async def check(self, bucket: str, client_ip: str) -> None:
        if self.item is None:
            return
        client = client_key(client_ip)
        try:
            if await self._limiter.hit(self.item, bucket, client):
                return
            stats = await self._limiter.get_window_stats(self.item, bucket, client)
        except StorageError as exc:
            # Refuse rather than let requests through unlimited: like the database, the
            # storage of the limits is needed to serve these endpoints safely.
            logger.warning("rate-limit storage unavailable: %s", type(exc.storage_error).__name__)
            raise ServiceUnavailable() from None
        raise RateLimited(math.ceil(stats.reset_time - time.time()))


def client_key(client_ip: str) -> str:
    """What one client is counted as: its IPv4 address (also when mapped into IPv6), or the
    /64 network of its IPv6 address. Anything else is counted as given."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def _async_url(url: str) -> str:
    # The limits library picks its asyncio drivers by an "async+" prefix.
    return url if url.startswith("async+") else f"async+{url}"


def rate_limit(bucket: str) -> Any:
    """Depends on the caller's IP being under the app's per-client limit for this bucket."""

    async def check(request: Request) -> None:
        limiter = rate_limiter_of(request)
        await limiter.check(bucket, client_ip_of(request))

    return Depends(check)
