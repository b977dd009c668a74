"""Real processes for the worker-mode tests: workers, API servers and a private Redis."""

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
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.conftest import TEST_SECRET
from tests.db import BACKEND_DIR


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class Proc:
    """A child process whose output goes to a log file (shown when a test fails)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(
            args, cwd=BACKEND_DIR, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)

    async def wait(self, within: float = 30.0) -> int:
        """The exit code, waiting up to `within` seconds."""
        deadline = time.monotonic() + within
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"pid {self.pid} still running; log: {self.tail()}")
            await asyncio.sleep(0.05)
        return int(self.popen.returncode)

    def tail(self, lines: int = 40) -> str:
        self._out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        if self.popen.poll() is None:
            self.signal(signal.SIGKILL)
            await self.wait(10)
        self._out.close()


class WorkerProc(Proc):
    """`python -m src.worker.process`: one worker with the real bot (or `module`'s)."""

    def __init__(self, env: dict[str, str], log: Path, module: str = "src.worker.process") -> None:
        super().__init__([sys.executable, "-m", module], env, log)
        self.id: str | None = None

    async def alive(self, redis: Redis, prefix: str, within: float = 60.0) -> dict[str, Any]:
        """Wait for this worker's heartbeat; return it."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.popen.returncode}): {self.tail()}")
            async for key in redis.scan_iter(match=f"{prefix}alive:*"):
                beat = json.loads(await redis.get(key) or "{}")
                if beat.get("pid") == self.pid:
                    self.id = str(beat["id"])
                    return dict(beat)
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no heartbeat from worker pid {self.pid}: {self.tail()}")


class ApiProc(Proc):
    """The API served by uvicorn in its own process."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "PUBLIC_BASE_URL": self.url}
        args = [sys.executable, "-m", "uvicorn", "--factory", "src.main:create_app"]
        super().__init__([*args, "--port", str(self.port), "--log-level", "warning"], env, log)

    async def ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url) as client:
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"the API exited: {self.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the API at {self.url} did not start: {self.tail()}")


class PrivateRedis(Proc):
    """A redis-server of the test's own (it may be stopped without touching anyone else's)."""

    def __init__(self, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        args = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        super().__init__([*args, "--appendonly", "no"], dict(os.environ), log)

    async def ready(self) -> None:
        redis = Redis.from_url(self.url)
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if await redis.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await redis.aclose()
        raise TimeoutError(f"the private redis-server did not start: {self.tail()}")
