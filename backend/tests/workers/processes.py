"""Real processes for the worker-mode tests: the kit's workers, API servers and private Redis
(`tests.kit.processes`, which the bench uses too), and their environment under test."""

from __future__ import annotations

import os
from typing import Any

from tests.conftest import TEST_SECRET
from tests.kit.processes import ApiProc, PrivateRedis, Proc, WorkerProc, free_port

__all__ = ["ApiProc", "PrivateRedis", "Proc", "WorkerProc", "free_port", "process_env"]


def process_env(database_url: str, redis_url: str, prefix: str, **extra: Any) -> dict[str, str]:
    """The environment of a worker or API process under test."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "JWT_SECRET": TEST_SECRET,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "INFO",
        # The test's own peers load the CPU: never refuse a call for load here.
        "WORKER_LOAD_THRESHOLD": "1",
        # A peer that hangs up ends its call this soon (the rejoin tests set their own grace).
        "REJOIN_GRACE_SECONDS": "2",
    }
    env.update({key.upper(): str(value) for key, value in extra.items()})
    return env
