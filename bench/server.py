"""Start the app as its own process on loopback, on a fresh database, for a benchmark run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bench import BACKEND
from tests.kit.processes import (
    ApiProc,
    Proc,
    forget,
    free_port,
    heartbeats,
    new_prefix,
    wait_for_workers,
)

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SUPERVISOR = [sys.executable, "-m", "src.worker"]


@dataclass
class Server:
    """A running app process and, in the worker mode, the Redis its workers beat in."""

    url: str
    pid: int
    database: str
    redis: Redis | None = None
    prefix: str = ""

    async def bot_pids(self) -> list[int]:
        """The processes that run the bots: the app itself, or each worker (from its heartbeat)."""
        if self.redis is None:
            return [self.pid]
        return sorted(int(beat["pid"]) for beat in await heartbeats(self.redis, self.prefix))

    async def bots_per_worker(self) -> list[int]:
        """How many bots each worker carries, most first (none in the embedded mode)."""
        if self.redis is None:
            return []
        beats = await heartbeats(self.redis, self.prefix)
        return sorted((int(beat["bots"]) for beat in beats), reverse=True)


# uvicorn closes a keep-alive connection idle for 5 s, httpx reuses one idle for up to 5 s: a
# request sent on one as the server closes it fails ("Server disconnected without sending a
# response"; the bargein part, 2026-12-07). The bench's clients let theirs go sooner.
KEEPALIVE_SECONDS = 2.0


def client_of(url: str) -> httpx.AsyncClient:
    """An HTTP client of the app at `url`, as every part uses it."""
    return httpx.AsyncClient(
        base_url=url, timeout=60, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
    )


async def _pg_database() -> str | None:
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL)
    name = f"numerologist_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(
            base.set(drivername="postgresql").render_as_string(False), timeout=3
        )
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def _drop(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    conn = await asyncpg.connect(
        make_url(PG_URL).set(drivername="postgresql").render_as_string(False)
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _worker_settings(prefix: str, workers: int) -> dict[str, str]:
    return {
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "WORKERS": str(workers),
        # The benchmark's own peers load the same two cores: a machine-wide load threshold
        # would refuse calls because of them, so only the bot count limits a worker here.
        "WORKER_LOAD_THRESHOLD": "1",
        "MAX_BOTS_PER_WORKER": "100",
        "DRAIN_TIMEOUT_SECONDS": "10",
    }


@asynccontextmanager
async def serve(
    tmp: Path,
    mode: str = "embedded",
    workers: int = 2,
    settings: Mapping[str, str] | None = None,
    *,
    api_cpus: set[int] | None = None,
    worker_cpus: set[int] | None = None,
) -> AsyncIterator[Server]:
    """The app in a child process (PostgreSQL when reachable, else SQLite), migrated.

    In the "workers" mode the app runs no bot: `python -m src.worker` (WORKERS=`workers`) runs
    them, dispatched through Redis under a prefix of this run's own. `settings`: the app's
    environment beyond the bench's own. `api_cpus`, `worker_cpus`:
    the CPU cores the app's process and the workers are pinned to (default: any).
    """
    database = await _pg_database() or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    prefix = new_prefix("bench") if mode == "workers" else ""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # Every bench user registers from loopback.
        "REGISTRATIONS_PER_ADDRESS": "100000/hour",
        **(_worker_settings(prefix, workers) if mode == "workers" else {}),
        **(settings or {}),
    }
    # Set-up and tear-down block the loop before and after the measurements, never during them.
    subprocess.run(  # noqa: ASYNC221
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=BACKEND,
        env=env,
        check=True,
        capture_output=True,
    )
    app = ApiProc(env, tmp / "server.log", port, cpus=api_cpus)
    supervisor = (
        Proc(SUPERVISOR, app.env, tmp / "workers.log", cpus=worker_cpus)
        if mode == "workers"
        else None
    )
    redis = Redis.from_url(REDIS_URL) if mode == "workers" else None
    try:
        await app.ready(within=120)
        if redis is not None:
            await wait_for_workers(redis, prefix, None, workers)
        yield Server(app.url, app.pid, database.split("://")[0], redis, prefix)
    finally:
        if supervisor is not None:
            await supervisor.stop(grace=60)
        if redis is not None:
            await redis.aclose()
            await forget(REDIS_URL, prefix)
        await app.stop(grace=30)
        if database.startswith("postgresql"):
            await _drop(database)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each process still running."""
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            used[pid] = cpu_seconds(pid)
    return used


def cpu_since(before: dict[int, float]) -> float:
    """The CPU seconds the processes of `before` (`cpu_of`) have used since, those still
    running."""
    after = cpu_of(list(before))
    return sum(after[pid] - before[pid] for pid in after)


# The services a step's calls use beside the server, when they run on this machine.
NEIGHBOURS = ("postgres", "redis-server")


def neighbours_cpu() -> dict[int, float]:
    """CPU seconds of each process of NEIGHBOURS on this machine (PostgreSQL forks a process a
    connection: `neighbours_since` counts those started since as new)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in NEIGHBOURS:
                    pids.append(int(entry.name))
    return cpu_of(pids)


def neighbours_since(before: dict[int, float]) -> float:
    """The CPU seconds NEIGHBOURS have used since `before` (`neighbours_cpu`), those still
    running, processes started since counted whole."""
    return sum(used - before.get(pid, 0.0) for pid, used in neighbours_cpu().items())


def machine_cpu() -> float:
    """The CPU seconds every core of the machine has been busy since boot (/proc/stat: all but
    idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def cpu_share(pids: list[int], seconds: float) -> float:
    """The share of one core the processes `pids` use over the next `seconds` (CPU seconds a
    second, summed)."""
    before, wall = cpu_of(pids), time.monotonic()
    await asyncio.sleep(seconds)
    return cpu_since(before) / (time.monotonic() - wall)
