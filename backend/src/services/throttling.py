"""Brute-force protection: sign-in attempts per account, per (account, address) and per address;
registrations per address.

A sign-in attempt is counted before its password is checked, with one atomic increment per
counter (Redis `INCRBY` in a script, or this process's memory under a lock), and refunded when the
password turns out right: however many attempts arrive at once, no more than a limit's worth are
ever checked. Counters live in Redis when REDIS_URL is set (keys under REDIS_PREFIX, shared by
every API process), in this process's memory otherwise.

Who is refused:
- an (account, address) pair that has used up its failures: the guesser's own address only;
- an address that has used up its failures across accounts (spraying one password over many);
- past the account's own limit, an address that has already failed on that account waits a delay
  that doubles with each further failure (LOGIN_DELAY_SECONDS up to LOGIN_MAX_DELAY_SECONDS).
  An address with no failures on the account is never delayed, so a stranger guessing from
  elsewhere cannot lock the owner out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from src.core.errors import InvalidCredentials, PasswordIncorrect, TooManyAttempts
from src.core.settings import Settings

logger = logging.getLogger(__name__)

# A counter store that does not answer this fast is skipped (see _unreachable).
_REDIS_TIMEOUT_SECONDS = 2.0


def _email_key(email: str) -> str:
    # Counter keys carry a digest, never the address itself.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def address_key(address: str) -> str:
    """The throttling key of a client address: IPv4 as it is, IPv6 by its /64 network.

    One IPv6 host is usually given a whole /64, so counting per /128 would give it 2**64 fresh
    counters. An IPv4 address mapped into IPv6 counts as itself.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def login_delay(excess: int, first: int, most: int) -> int:
    """The seconds between checks for an account `excess` failures past its limit: `first`,
    doubling with each failure, at most `most`."""
    return min(most, first << min(excess - 1, 30))


@dataclass(frozen=True)
class _Counter:
    item: RateLimitItem
    key: str

    @property
    def expiry(self) -> int:
        return self.item.get_expiry()


class Throttle:
    """Counts sign-in attempts and registrations and refuses them past the configured rates.

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
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_email = parse(settings.login_failures_per_email)
        self._per_pair = parse(settings.login_failures_per_email_and_address)
        self._per_address = parse(settings.login_failures_per_address)
        self._registrations = parse(settings.registrations_per_address)
        self._first_delay = settings.login_delay_seconds
        self._max_delay = settings.login_max_delay_seconds

    @asynccontextmanager
    async def login_attempt(self, email: str, address: str) -> AsyncIterator[None]:
        """Count a sign-in attempt before its password is checked (the body of the block).

        The attempt stays counted if the block raises `InvalidCredentials` or
        `PasswordIncorrect` (or is cancelled), and is refunded if it ends otherwise: a right
        password, or our own failure.

        Raises:
            TooManyAttempts: a counter is spent, or the account's delay has not passed.
        """
        taken = await self._take_login(_email_key(email), address_key(address))
        try:
            yield
        except (InvalidCredentials, PasswordIncorrect):
            raise
        except Exception:
            await self._give_back(taken)
            raise
        await self._give_back(taken)

    async def _take_login(self, account: str, where: str) -> list[_Counter]:
        counters = [
            _Counter(self._per_address, self._per_address.key_for("login-address", where)),
            _Counter(self._per_pair, self._per_pair.key_for("login-pair", account, where)),
            _Counter(self._per_email, self._per_email.key_for("login-email", account)),
        ]
        taken: list[_Counter] = []
        try:
            counts = []
            for counter in counters:
                counts.append(await self._storage.incr(counter.key, counter.expiry))
                taken.append(counter)
            _, pair_count, account_count = counts
            for counter, count in zip(counters[:2], counts[:2], strict=True):
                if count > counter.item.amount:
                    raise TooManyAttempts(await self._retry_after(counter.key))
            excess = account_count - self._per_email.amount
            # pair_count includes this attempt: above 1, this address has failed on the account.
            if excess > 0 and pair_count > 1:
                await self._wait_turn(account, excess)
        except TooManyAttempts:
            await self._give_back(taken)
            raise
        except StorageError as exc:
            # Whatever was counted before the store failed may stay: its window expires.
            _unreachable(exc)
            return []
        return taken

    async def _wait_turn(self, account: str, excess: int) -> None:
        # One check per delay for the addresses that have failed on this account: the first
        # caller takes the turn (the key is new), later ones wait for it to expire.
        delay = login_delay(excess, self._first_delay, self._max_delay)
        key = self._per_email.key_for("login-delay", account)
        if await self._storage.incr(key, delay) > 1:
            raise TooManyAttempts(await self._retry_after(key))

    async def _give_back(self, taken: list[_Counter]) -> None:
        try:
            for counter in taken:
                # A window that expired meanwhile would go negative (a free attempt): back to 0.
                if await self._storage.incr(counter.key, counter.expiry, -1) < 0:
                    await self._storage.incr(counter.key, counter.expiry, 1)
        except StorageError as exc:
            _unreachable(exc)

    async def registration(self, address: str) -> None:
        """Count a registration from this address.

        Raises:
            TooManyAttempts: the address has registered too often.
        """
        item, kind, key = self._registrations, "register-address", address_key(address)
        try:
            if not await self._limiter.hit(item, kind, key):
                stats = await self._limiter.get_window_stats(item, kind, key)
                raise TooManyAttempts(max(1, math.ceil(stats.reset_time - time.time())))
        except StorageError as exc:
            _unreachable(exc)

    async def _retry_after(self, key: str) -> int:
        return max(1, math.ceil(await self._storage.get_expiry(key) - time.time()))

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.disconnect()


def _unreachable(exc: StorageError) -> None:
    logger.error(
        "throttling counters unreachable (check REDIS_URL), attempt let through: %s",
        type(exc.storage_error).__name__,
    )
