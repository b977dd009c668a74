"""The worker mode for `make bench` and `make drills`: child processes, Redis and heartbeats.

A worker writes its heartbeat to `{prefix}alive:{worker_id}` (JSON: id, pid, bots, capacity,
load, draining) with a 3 s TTL; these helpers read them to find the worker processes (whose
CPU and memory the benchmark measures) and the bots they run (which the drills check).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

BACKEND = Path(__file__).resolve().parents[1] / "backend"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER = [sys.executable, "-m", "src.worker.process"]
SUPERVISOR = [sys.executable, "-m", "src.worker"]


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_prefix(kind: str) -> str:
    """A key prefix of this run's own, so runs and tests sharing one Redis never meet."""
    return f"{kind}-{uuid.uuid4().hex[:8]}:"


class Child:
    """A child process started in backend/, its output appended to a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command = command
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.command, cwd=BACKEND, env=self.env, stdout=log, stderr=log
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def exit_code(self, sig: signal.Signals, within: float = 60) -> int | None:
        """Send a signal; the exit code, or None if it was still running after `within` s."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        deadline = time.monotonic() + within
        while self.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        return self.process.poll()

    async def stop(self) -> None:
        """SIGTERM (a worker drains), then SIGKILL if it is still running after 60 s."""
        if self.running() and await self.exit_code(signal.SIGTERM) is None:
            await self.exit_code(signal.SIGKILL, within=10)


async def heartbeats(redis: Redis, prefix: str) -> list[dict[str, Any]]:
    """The heartbeats of the workers alive now."""
    beats = []
    async for key in redis.scan_iter(match=f"{prefix}alive:*"):
        raw = await redis.get(key)
        if raw:
            beats.append(json.loads(raw))
    return beats


async def wait_for_workers(
    redis: Redis, prefix: str, pids: set[int] | None, count: int, within: float = 120
) -> list[dict[str, Any]]:
    """Wait until `count` workers beat (those of `pids` when given); their heartbeats."""
    deadline = time.monotonic() + within
    while True:
        beats = [b for b in await heartbeats(redis, prefix) if pids is None or b["pid"] in pids]
        if len(beats) >= count:
            return beats
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(beats)} of {count} workers beat within {within:.0f} s")
        await asyncio.sleep(0.2)


async def forget(redis_url: str, prefix: str) -> None:
    """Delete this run's keys."""
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


class PrivateRedis(Child):
    """A redis-server of the drill's own, which it may stop and start again on one port."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        command = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        super().__init__([*command, "--appendonly", "no"], dict(os.environ), log)

    async def start(self) -> None:
        self.spawn()
        redis = Redis.from_url(self.url)
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if await redis.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await redis.aclose()
        raise RuntimeError(f"the private redis-server did not start; see {self.log}")
