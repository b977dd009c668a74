"""Child processes for the tests and the bench: the API, workers and a private Redis.

Each runs in backend/ with its output appended to a log file, and can be signalled, waited
for and started again on the same log. A worker writes its heartbeat to
`{prefix}alive:{worker_id}` (JSON: id, pid, bots, capacity, load, draining) with a 3 s TTL;
`heartbeats` reads them.
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
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from signal import Signals
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis

BACKEND = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_prefix(kind: str) -> str:
    """A Redis key prefix of one run's or test's own, so those sharing one Redis never meet."""
    return f"{kind}-{uuid.uuid4().hex[:10]}:"


async def forget(redis_url: str, prefix: str) -> None:
    """Delete every key under `prefix`."""
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


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
            raise TimeoutError(f"{len(beats)} of {count} workers beat within {within:.0f} s")
        await asyncio.sleep(0.1)


P = TypeVar("P", bound="Proc")


@contextlib.asynccontextmanager
async def stopped_at_the_end(make: Callable[..., P]) -> AsyncIterator[Callable[..., P]]:
    """`make(n, ...)` (n: how many it made before) as a function whose processes are all
    stopped (killed) when the block ends: what a test's fixture hands it."""
    started: list[P] = []

    def spawn(*args: Any, **kwargs: Any) -> P:
        proc = make(len(started), *args, **kwargs)
        started.append(proc)
        return proc

    try:
        yield spawn
    finally:
        for proc in started:
            await proc.stop()


@contextlib.contextmanager
def pinned(cpus: set[int] | None) -> Iterator[None]:
    """This process (every thread of it: the load generator, its canary's models) on the CPU
    cores `cpus` for the block, then back on the cores it had (None: unchanged)."""
    if cpus is None:
        yield
        return
    had = os.sched_getaffinity(0)

    def every_thread(to: set[int]) -> None:
        for task in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):  # a thread that has just ended
                os.sched_setaffinity(int(task), to)

    every_thread(cpus)
    try:
        yield
    finally:
        every_thread(had)


class Proc:
    """A child process started in backend/, its output appended to a log file; in the network
    namespace `netns` when given (`ip netns exec`, which execs: the pid is the command's); on
    the CPU cores `cpus` only when given (its threads and children too: they inherit it)."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        log: Path,
        netns: str | None = None,
        cpus: set[int] | None = None,
    ) -> None:
        if cpus is not None:  # util-linux's taskset execs the command: the pid is still its
            command = ["taskset", "--cpu-list", ",".join(map(str, sorted(cpus))), *command]
        self.netns = netns
        self.command = ["ip", "netns", "exec", netns, *command] if netns else command
        self.env = env
        self.log = log
        self.popen: subprocess.Popen[bytes]
        self.spawn()

    def spawn(self) -> None:
        """Start the process (again, once it has exited), appending to the same log."""
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command, cwd=BACKEND, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)

    async def wait(self, within: float = 30.0) -> int:
        """The exit code, waiting up to `within` seconds (TimeoutError after)."""
        deadline = time.monotonic() + within
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"pid {self.pid} still running; log: {self.tail()}")
            await asyncio.sleep(0.05)
        return int(self.popen.returncode)

    async def exit_code(self, sig: Signals, within: float = 60.0) -> int | None:
        """Send a signal; the exit code, or None if it was still running after `within` s."""
        self.signal(sig)
        try:
            return await self.wait(within)
        except TimeoutError:
            return None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, grace: float = 0.0) -> None:
        """SIGTERM and `grace` seconds to exit (a worker drains), then SIGKILL."""
        if grace and self.running() and await self.exit_code(signal.SIGTERM, grace) is not None:
            return
        if self.running():
            self.signal(signal.SIGKILL)
            await self.wait(10)


class WorkerProc(Proc):
    """`python -m src.worker.process`: one worker with the real bot (or `module`'s)."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        module: str = "src.worker.process",
        netns: str | None = None,
    ) -> None:
        super().__init__([sys.executable, "-m", module], env, log, netns)
        self.id: str | None = None

    async def alive(self, redis: Redis, prefix: str, within: float = 60.0) -> dict[str, Any]:
        """Wait for this worker's heartbeat; return it."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.popen.returncode}): {self.tail()}")
            for beat in await heartbeats(redis, prefix):
                if beat.get("pid") == self.pid:
                    self.id = str(beat["id"])
                    return beat
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no heartbeat from worker pid {self.pid}: {self.tail()}")


class ApiProc(Proc):
    """The API served by uvicorn in its own process (`app`: the factory to serve), on loopback
    or on `host` (an address of the namespace `netns`)."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        port: int | None = None,
        app: str = "src.main:create_app",
        host: str = "127.0.0.1",
        netns: str | None = None,
        cpus: set[int] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        env = {**env, "PUBLIC_BASE_URL": self.url}
        args = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", host]
        command = [*args, "--port", str(self.port), "--log-level", "warning"]
        super().__init__(command, env, log, netns, cpus)

    async def ready(self, within: float = 30.0) -> None:
        """Wait until /health answers 200."""
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
    """A redis-server of one test's or drill's own (it may be stopped and started again on
    its port without touching anyone else's)."""

    def __init__(
        self,
        log: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        netns: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"redis://{host}:{self.port}/0"
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        # No persistence: a restart loses every key, as the drills mean it to.
        args = [server, "--port", str(self.port), "--bind", host, "--save", ""]
        args += ["--protected-mode", "no"] if host != "127.0.0.1" else []
        super().__init__([*args, "--appendonly", "no"], dict(os.environ), log, netns)

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
