"""Brute-force protection: failed sign-ins per email and per address, registrations per address.

The `limits` library keeps moving windows: in Redis when REDIS_URL is set (keys under
REDIS_PREFIX, so every API process shares the counters), in this process's memory otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from src.core.errors import TooManyAttempts
from src.core.settings import Settings

logger = logging.getLogger(__name__)

# A counter store that does not answer this fast is skipped (see _unreachable).
_REDIS_TIMEOUT_SECONDS = 2.0


def _email_key(email: str) -> str:
    # Counter keys carry a digest, never the address itself.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class Throttle:
    """Counts failed sign-ins and registrations and refuses them past the configured rates.

    A refusal is `TooManyAttempts` (429 with Retry-After), the same for every email, known or
    not. When Redis does not answer, attempts are let through and the error is logged: sign-in
    stays available, unthrottled, until Redis is back.
    """

    def __init__(self, settings: Settings) -> None:
        self._pool: ConnectionPool | None = None
        storage: Storage
        if settings.redis_url:
            self._pool = ConnectionPool.from_url(
                settings.redis_url,
                socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                socket_timeout=_REDIS_TIMEOUT_SECONDS,
            )
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=f"{settings.redis_prefix}limits",
                wrap_exceptions=True,
                # limits types its options as scalars, but hands them to redis-py (which takes
                # a pool): the pool is ours to close.
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_email = parse(settings.login_failures_per_email)
        self._per_address = parse(settings.login_failures_per_address)
        self._registrations = parse(settings.registrations_per_address)

    def _login_counters(self, email: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [
            (self._per_email, "login-email", _email_key(email)),
            (self._per_address, "login-address", address),
        ]

    async def check_login(self, email: str, address: str) -> None:
        """Refuse a sign-in while its email or its address has used up its failures.

        Raises:
            TooManyAttempts: either counter is spent.
        """
        try:
            for item, kind, key in self._login_counters(email, address):
                if not await self._limiter.test(item, kind, key):
                    raise TooManyAttempts(await self._retry_after(item, kind, key))
        except StorageError as exc:
            _unreachable(exc)

    async def login_failed(self, email: str, address: str) -> None:
        """Count a failed sign-in against its email and its address."""
        try:
            for item, kind, key in self._login_counters(email, address):
                await self._limiter.hit(item, kind, key)
        except StorageError as exc:
            _unreachable(exc)

    async def registration(self, address: str) -> None:
        """Count a registration from this address.

        Raises:
            TooManyAttempts: the address has registered too often.
        """
        item, kind = self._registrations, "register-address"
        try:
            if not await self._limiter.hit(item, kind, address):
                raise TooManyAttempts(await self._retry_after(item, kind, address))
        except StorageError as exc:
            _unreachable(exc)

    async def _retry_after(self, item: RateLimitItem, kind: str, key: str) -> int:
        stats = await self._limiter.get_window_stats(item, kind, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.disconnect()


def _unreachable(exc: StorageError) -> None:
    logger.error(
        "throttling counters unreachable (check REDIS_URL), attempt let through: %s",
        type(exc.storage_error).__name__,
    )
