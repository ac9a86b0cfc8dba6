"""Rate limits on `limits`' asyncio engine: in memory (embedded) or Redis (production).

slowapi's check runs synchronously inside the request (a Redis round trip blocking the
event loop) and before dependencies resolve, so it cannot key a limit on the verified
subject. We use the same engine (`limits`, the library under slowapi) asynchronously with
the same storage URIs and limit strings. A store that cannot answer fails closed (503).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisSentinelStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from control_plane.errors import Unavailable


class LimiterUnavailable(Unavailable):
    code = "rate_limiter_unavailable"
    default_message = "rate limiter unavailable"


@dataclass(frozen=True)
class LimitOutcome:
    allowed: bool
    limit: str
    retry_after: int


REDIS_TIMEOUT_SECONDS = 2.0


def _storage(url: str) -> tuple[Storage, aioredis.ConnectionPool | None]:
    if url.startswith("memory"):
        return MemoryStorage(), None
    if url.startswith(("redis://", "rediss://")):
        # Our own pool: explicit timeouts (a hung Redis fails the request closed instead of
        # hanging it) and a handle to close at shutdown.
        pool = aioredis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        storage = RedisStorage(
            f"async+{url}",
            implementation="redispy",
            connection_pool=pool,  # type: ignore[arg-type]  # passed through to redis-py
        )
        return storage, pool
    if url.startswith("redis+sentinel://"):
        # limits asks the sentinels for the current primary (and again after a failover).
        # Every read goes to the primary too: a replica's counters may lag behind.
        timeouts: dict[str, float | str | bool] = {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
        sentinel = RedisSentinelStorage(
            f"async+{url}",
            implementation="redispy",
            use_replicas=False,
            sentinel_kwargs=timeouts,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return sentinel, None
    raise ValueError(f"unsupported rate-limit storage: {url.split('://', 1)[0]}")


class RateLimiter:
    """Owned by the lifespan; one storage connection shared by every request."""

    def __init__(self, storage_url: str) -> None:
        self._storage, self._pool = _storage(storage_url)
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}
        self.backend = storage_url.split("://", 1)[0]

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = parse(limit)
            self._items[limit] = item
        return item

    async def hit(self, limit: str, *keys: str) -> LimitOutcome:
        """Count one hit against ``limit`` for these keys; never raises for "over limit"."""
        item = self._item(limit)
        try:
            allowed = await self._strategy.hit(item, *keys)
            if allowed:
                return LimitOutcome(True, limit, 0)
            stats = await self._strategy.get_window_stats(item, *keys)
        except Exception as exc:  # any storage failure: fail closed
            raise LimiterUnavailable() from exc
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return LimitOutcome(False, limit, retry_after)

    async def incr(self, key: str, expiry_seconds: int) -> int:
        """Add one to a counter that expires ``expiry_seconds`` after its first hit; the new
        value. Atomic on Redis, so every replica counts the same stream."""
        try:
            return int(await self._storage.incr(key, expiry_seconds))
        except Exception as exc:  # any storage failure
            raise LimiterUnavailable() from exc

    async def get(self, key: str) -> int:
        """A counter's current value (0 when absent or expired)."""
        try:
            return int(await self._storage.get(key))
        except Exception as exc:  # any storage failure
            raise LimiterUnavailable() from exc

    async def check_health(self) -> bool:
        """True if the storage answers."""
        try:
            return bool(await self._storage.check())
        except Exception:  # a failing check means "down", whatever the driver raised
            return False

    async def reset(self) -> None:
        await self._storage.reset()

    async def aclose(self) -> None:
        """Close the Redis connections (no-op in memory)."""
        if self._pool is not None:
            await self._pool.disconnect()
        if isinstance(self._storage, RedisSentinelStorage):
            # limits owns these clients and has no close of its own: the primary's and
            # the replicas' pools, then each sentinel's.
            bridge = self._storage.bridge
            sentinel = getattr(bridge, "sentinel", None)
            clients = [
                getattr(bridge, "storage", None),
                getattr(bridge, "storage_replica", None),
                *(getattr(sentinel, "sentinels", None) or []),
            ]
            for client in clients:
                if client is not None:
                    await client.aclose()
