"""The Redis client's socket timeout: past its user's longest blocking wait, by a margin only, so
that a command on a connection a network cut left hanging gives up soon (no Redis needed)."""

from __future__ import annotations

import pytest

from src.services.bots.redis_dispatch import SOCKET_MARGIN_SECONDS, connect_redis
from src.worker.process import LONGEST_REDIS_WAIT_SECONDS
from tests.conftest import make_settings

pytestmark = pytest.mark.once


async def test_the_api_s_client_outlasts_its_wait_for_a_bot_and_a_worker_s_its_reads() -> None:
    settings = make_settings("sqlite+aiosqlite://", redis_url="redis://127.0.0.1:6379/0")
    api = connect_redis(settings)
    worker = connect_redis(settings, LONGEST_REDIS_WAIT_SECONDS)
    try:
        api_timeout = api.connection_pool.connection_kwargs["socket_timeout"]
        longest = settings.dispatch_timeout_seconds + settings.bot_ready_timeout_seconds
        assert api_timeout == longest + SOCKET_MARGIN_SECONDS
        worker_timeout = worker.connection_pool.connection_kwargs["socket_timeout"]
        # The worker's longest read blocks 1 s: a hung command is given up within 5 s.
        assert worker_timeout == LONGEST_REDIS_WAIT_SECONDS + SOCKET_MARGIN_SECONDS <= 5.0
    finally:
        await api.aclose()
        await worker.aclose()
